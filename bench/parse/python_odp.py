"""Reference side of bench/parse: the OVS Python parser behind ovs-flowviz (ovs.flow.odp.ODPFlow).

Usage: /usr/bin/python3 python_odp.py DUMP_FILE SAMPLE_SIZE
Parses the first SAMPLE_SIZE flow lines twice and prints one JSON line. First each ODPFlow is
dropped right away (discarded_seconds, discarded_flows_per_s); then every ODPFlow is kept in a list
to the end (seconds, flows_per_s, peak_rss_kb), as ovs-flowviz keeps the flows it reads and as our
side keeps every flow: that is the comparison. Also: flows, failed, kept. Two edits for the 3.1
parser, on the Python side only: dp-extra-info is stripped (it rejects the field), and
ct_tuple6's src_port=/dst_port= (what 3.1's datapath prints) become tcp_src=/tcp_dst= (what its
decoder table expects).
"""
import json
import resource
import sys
import time

from ovs.flow.odp import ODPFlow


def main():
    path, sample = sys.argv[1], int(sys.argv[2])
    lines = []
    with open(path) as f:
        for line in f:
            if not line.startswith("ufid:"):
                continue
            cut = line.find(", dp-extra-info:")
            line = line[:cut] if cut >= 0 else line.rstrip("\n")
            if "ct_tuple6(" in line:
                line = line.replace(",src_port=", ",tcp_src=").replace(",dst_port=", ",tcp_dst=")
            lines.append(line)
            if len(lines) >= sample:
                break
    start = time.perf_counter()
    for line in lines:
        try:
            ODPFlow(line)
        except Exception:
            pass
    discarded = time.perf_counter() - start
    start = time.perf_counter()
    failed = 0
    kept = []
    for line in lines:
        try:
            kept.append(ODPFlow(line))
        except Exception:  # counted, so a rejected line cannot pass for a fast one
            failed += 1
    seconds = time.perf_counter() - start
    print(json.dumps({
        "flows": len(lines),
        "failed": failed,
        "kept": len(kept),
        "seconds": seconds,
        "flows_per_s": len(lines) / seconds,
        "discarded_seconds": discarded,
        "discarded_flows_per_s": len(lines) / discarded,
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


main()
