// The one wording of a verdict (web/describe.ts, the page and the terminal client) for a pass that
// sent ovn-controller only a copy to log: its kinds hold 'controller' (so ?verdict=controller finds
// it), but the packet did not go there: "copy to ovn-controller", after its fate. Real captured
// logged drops of every pair; the gateway_mtu split (a real packet-in) keeps "to ovn-controller".
import { verdictText } from '../../../web/describe';
import { verdictJson } from '../../../src/traces/trace-record';
import { packetNodes, VERDICT_VERSIONS } from '../../support/verdict-fixtures';

/** The verdict as the page and the client get it: the API's JSON. */
const served = (v: Parameters<typeof verdictJson>[0]): Parameters<typeof verdictText>[0] => JSON.parse(JSON.stringify(verdictJson(v)));

describe.each(VERDICT_VERSIONS)('%s', (version) => {
  it('a logged drop reads as a drop and a copy to ovn-controller', () => {
    const pass = packetNodes(version, 'acl-drop-logged').find((n) => n.trace.verdict.kind !== 'recirculate')!;
    const text = verdictText(served(pass.trace.verdict), (_k, t) => t, (s) => s);
    expect(text).toMatch(/^dropped by ACL: .*; copy to ovn-controller: ACL log$/);
  });

  it('the gateway_mtu split reads as sent to ovn-controller', () => {
    const split = packetNodes(version, 'gateway-mtu').find((n) => /check_pkt_len\(size=\d+,gt\(userspace\(pid=\d+,controller\(/.test(n.installed))!;
    const text = verdictText(served(split.trace.verdict), (_k, t) => t, (s) => s);
    expect(text).toMatch(/; to ovn-controller: ICMP error, for packets longer than \d+ bytes only/);
  });
});
