// The check that ends vlog lifetimes whose removal the log never tells (src/collectors/vlog-gone-check.ts):
// only the datapath's own "No such file or directory" is gone; any other failure is nothing learnt;
// a flow found installed is due again a max-idle after its last packet. Replies as OVS 3.1 gives them
// (test/e2e/vlog-lifetimes.e2e-spec.ts runs it against a real ovs-vswitchd).
import { checkFlow, GoneChecks, MAX_IDLE_MS } from '../../../src/collectors/vlog-gone-check';
import { UnixctlError } from '../../../src/unixctl/client';

const UFID = '69e5d83f-02e2-4116-8b20-929856faa0d0';
const LINE =
  'ct_state(+new-est-rel-rpl-inv+trk),ct_mark(0/0x1),recirc_id(0x8),in_port(2),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02/01:00:00:00:00:00),eth_type(0x0800),ipv4(frag=no), packets:3, bytes:318, used:2.500s, actions:ct(commit,zone=4,mark=0/0x1,nat(src)),3';
const answering = (reply: string | Error) => async (command: string, args: string[]) => {
  expect([command, args]).toEqual(['dpctl/get-flow', ['netdev@ovs-netdev', `ufid:${UFID}`]]);
  if (reply instanceof Error) throw reply;
  return reply;
};

describe('vlog gone checks', () => {
  it('reads the flow, its absence, or nothing learnt from one dpctl/get-flow', async () => {
    const present = await checkFlow(answering(`${LINE}\n`), 'netdev@ovs-netdev', UFID);
    expect(present.state === 'present' && [present.flow.packets, present.flow.bytes, present.flow.usedSeconds]).toEqual([3, 318, 2.5]);
    const gone = new UnixctlError('ovs-vswitchd', 'dpctl/get-flow', 'ovs-vswitchd: getting flow (No such file or directory)\n');
    expect(await checkFlow(answering(gone), 'netdev@ovs-netdev', UFID)).toEqual({ state: 'gone' });
    for (const other of [
      new UnixctlError('ovs-vswitchd', 'dpctl/get-flow', 'ovs-vswitchd: getting flow (Invalid argument)\n'),
      new UnixctlError('ovs-vswitchd', 'dpctl/get-flow', 'please specify an existing datapath\n'),
      new Error('ovs-vswitchd: timed out after 10000 ms'),
    ])
      expect(await checkFlow(answering(other), 'netdev@ovs-netdev', UFID)).toMatchObject({ state: 'unknown' });
    expect(await checkFlow(answering('garbage, packets:x'), 'netdev@ovs-netdev', UFID)).toMatchObject({ state: 'unknown', reason: expect.stringMatching(/^unreadable reply/) });
  });

  it('is due a max-idle after the flow was last known alive, at most so many at a time, and each once', async () => {
    const g = new GoneChecks();
    g.watch(1, 'a', 1000);
    g.watch(2, 'b', 0);
    g.watch(3, 'c', 5000);
    expect(g.take(MAX_IDLE_MS, 10)).toEqual([]);
    expect(g.take(MAX_IDLE_MS + 3500, 1)).toEqual([{ id: 2, ufid: 'b' }]);
    expect(g.take(MAX_IDLE_MS + 3500, 10)).toEqual([{ id: 1, ufid: 'a' }]);
    g.forget(3);
    expect(g.size).toBe(0);
    // Found installed at 100 s, last used 2.5 s before: due a max-idle after that packet.
    const found = await checkFlow(answering(LINE), 'netdev@ovs-netdev', UFID);
    if (found.state !== 'present') throw new Error(`not read: ${JSON.stringify(found)}`);
    g.present(4, UFID, found.flow, 100_000);
    expect(g.take(100_000 - 2500 + MAX_IDLE_MS, 10)).toEqual([]);
    expect(g.take(100_000 - 2500 + MAX_IDLE_MS + 2000, 10)).toEqual([{ id: 4, ufid: UFID }]);
  });
});
