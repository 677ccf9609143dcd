# The reference for trace parsing: ovn-detrace's own reading of ofproto/trace text (the regexes
# of /usr/bin/ovn-detrace main(): cookie, in_port, output, table lines), without its database
# lookups. It extracts cookies only; ours builds the whole structure. Prints traces per second.
import re, sys, time
texts = open(sys.argv[1]).read().split('\n\x00\n')
regex_cookie = re.compile(r'^.*cookie 0x([0-9a-fA-F]+)')
regex_inport = re.compile(r'^ *[0-9]+\. *in_port=([0-9])+')
regex_outport = re.compile(r'^ *output:([0-9]+)')
regex_table_id = re.compile(r'^ *[0-9]+\.')
start = time.perf_counter()
found = 0
for text in texts:
    cookies = []
    for line in text.split('\n'):
        if cookies and (regex_table_id.match(line) or line.strip() == ''):
            found += len(cookies)
            cookies = []
        for regex in (regex_cookie, regex_outport, regex_inport):
            m = regex.match(line)
            if m:
                cookies.append(m.group(1))
                break
elapsed = time.perf_counter() - start
print('{"traces": %d, "seconds": %.3f, "traces_per_s": %.0f, "cookies": %d}' % (len(texts), elapsed, len(texts) / elapsed, found))
