// Geneve option lists as lib/odp-util.c format_geneve_opts prints them: `{class=…,type=…,len=…,0x…}`
// back to back (no comma between options), each field with a `/mask` when partly masked, the data
// left out when its mask is all zeros (non-verbose), `0` for all-zero data (ds_put_hex). The key
// views (odp-key-views.ts, for session selection) and the tunnel parts (odp-tunnel.ts, for linking
// chassis) read the same text: one parser, so they accept and refuse the same lists.
import { geneveOptions, parseKey } from '../../../src/ovs/odp-key';
import { tunnelMatch, tunnelPushes } from '../../../src/ovs/odp-tunnel';
import { OvsParseError } from '../../../src/ovs/parse-error';

const key = (opts: string) => `tunnel(tun_id=0x1,src=192.168.0.1,dst=192.168.0.2,geneve(${opts}),flags(-df+csum+key)),in_port(genev_sys_6081)`;
const push = (opts: string) => `set(tunnel(tun_id=0x1,dst=192.168.0.2,ttl=64,tp_dst=6081,geneve(${opts}),flags(df|csum|key))),genev_sys_6081`;

/** The key views' option as the tunnel parts carry it. */
function asTunnel(o: ReturnType<typeof geneveOptions>[number]) {
  const attr = (n: string) => o.attrs.find((a) => a.name === n)?.value;
  return { optClass: Number(attr('class')), type: Number(attr('type')), len: Number(attr('len')), data: o.data ?? '', mask: o.dataMask };
}

describe('Geneve option lists: the key views and the tunnel parts read them alike', () => {
  it.each([
    // Captured (test/fixtures/captured-multichassis): exact, masked, wildcarded by a recirculated pass.
    ['{class=0x102,type=0x80,len=4,0x20001}', [{ optClass: 0x102, type: 0x80, len: 4, data: '0x20001', mask: undefined }]],
    ['{class=0x102,type=0x80,len=4,0x20001/0x7fffffff}', [{ optClass: 0x102, type: 0x80, len: 4, data: '0x20001', mask: '0x7fffffff' }]],
    ['{class=0x102/0,type=0x80/0,len=4/0,0x20001/0}', [{ optClass: 0x102, type: 0x80, len: 4, data: '0x20001', mask: '0' }]],
    // format_geneve_opts: two options back to back; data left out (mask all zeros, non-verbose); data 0.
    ['{class=0x102,type=0x80,len=4,0x10002}{class=0xffff,type=0x1,len=8,0x1122334455667788}', [
      { optClass: 0x102, type: 0x80, len: 4, data: '0x10002', mask: undefined },
      { optClass: 0xffff, type: 1, len: 8, data: '0x1122334455667788', mask: undefined },
    ]],
    ['{class=0x102,type=0x80,len=4}', [{ optClass: 0x102, type: 0x80, len: 4, data: '', mask: undefined }]],
    ['{class=0x102,type=0x80,len=4,0/0}', [{ optClass: 0x102, type: 0x80, len: 4, data: '0', mask: '0' }]],
    ['', []],
  ])('reads %s', (opts, want) => {
    expect(tunnelMatch(key(opts))!.geneve).toEqual(want);
    expect(geneveOptions(parseKey(key(opts))).map(asTunnel)).toEqual(want);
    expect(tunnelPushes(push(opts))[0].geneve).toEqual(want);
  });

  it.each([
    ['two masks on the data', '{class=0x102,type=0x80,len=4,0x20001/0x7fffffff/0}'],
    ['data not in hex', '{class=0x102,type=0x80,len=4,20001}'],
    ['a mask not in hex', '{class=0x102,type=0x80,len=4,0x20001/zz}'],
    ['a comma between options (OVS prints them back to back)', '{class=0x102,type=0x80,len=4,0x1},{class=0x102,type=0x80,len=4,0x2}'],
    ['a field OVS does not print', '{class=0x102,type=0x80,len=4,crit=1,0x1}'],
    ['two data parts', '{class=0x102,type=0x80,len=4,0x1,0x2}'],
    ['a class that is no number', '{class=zz,type=0x80,len=4,0x1}'],
    ['an unclosed option', '{class=0x102,type=0x80,len=4,0x1'],
    ['text before an option', 'x{class=0x102,type=0x80,len=4,0x1}'],
  ])('both refuse %s', (_what, opts) => {
    expect(() => tunnelMatch(key(opts))).toThrow(OvsParseError);
    expect(() => geneveOptions(parseKey(key(opts)))).toThrow(OvsParseError);
    expect(() => tunnelPushes(push(opts))).toThrow(OvsParseError);
  });
});
