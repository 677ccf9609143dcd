// The same datapath flow on two PMD threads (one copy each, same UFID, own counters), as a real
// userspace datapath with two PMDs dumped it (OVS 3.1 sandbox, dummy-pmd ports, pmd-cpu-mask=3,
// packets sent to a receive queue of each PMD). test/e2e/poller-multi-pmd.e2e-spec.ts is the same
// case on a live daemon; this one pins the arithmetic.
import { DatapathFlowTable } from '../../../src/collectors/datapath-diff';
import { detraceArgs } from '../../../src/collectors/detrace-pass';
import { parseDumpFlows } from '../../../src/ovs/dump-flows';

const KEY = 'skb_priority(0/0),skb_mark(0/0),ct_state(0/0),ct_zone(0/0),ct_mark(0/0),ct_label(0/0),recirc_id(0),dp_hash(0/0),in_port(p1),packet_type(ns=0,id=0),eth(src=50:54:00:00:0a:01,dst=50:54:00:00:0a:02),eth_type(0x0800),ipv4(src=10.9.0.1/0.0.0.0,dst=10.9.0.2/0.0.0.0,proto=17/0,tos=0/0,ttl=64/0,frag=no),udp(src=4000/0,dst=5000/0)';
const UFID = 'a4652428-bf00-48ff-ba7c-8b1526762640';
const line = (packets: number, actions = 'brp,p2') =>
  `ufid:${UFID}, ${KEY}, packets:${packets}, bytes:${packets * 106}, used:0.829s, dp:ovs, actions:${actions}, dp-extra-info:miniflow_bits(5,1)`;
/** A dump with a copy on each core given (core → packets), in core order, as dpif-netdev lists them. */
const dump = (copies: Record<number, number>, actions?: string) =>
  parseDumpFlows(Object.entries(copies).map(([core, n]) => `flow-dump from pmd on cpu core: ${core}\n${line(n, actions)}`).join('\n'), { build: 'on-read' }).items;

describe('a datapath flow with a copy on each of two PMDs', () => {
  it('is one lifetime counting both copies, on while one copy idles out and comes back', () => {
    const t = new DatapathFlowTable();
    const first = t.apply(dump({ 0: 19, 1: 2 }), 't1');
    expect(first.events.map((e) => e.type)).toEqual(['ukey_created']);
    expect(t.live.get(UFID)).toMatchObject({ packets: 21, bytes: 21 * 106 });
    // Core 0's copy idled out; core 1's carries on: not counters that fell.
    const second = t.apply(dump({ 1: 3 }), 't2');
    expect(second.events.map((e) => e.type)).toEqual(['ukey_updated']);
    expect(t.live.get(UFID)).toMatchObject({ packets: 19 + 3, firstSeen: 't1' });
    // A packet on core 0 again: a new copy there, counted on top.
    t.apply(dump({ 0: 0, 1: 4 }), 't3');
    expect(t.live.get(UFID)).toMatchObject({ packets: 19 + 4, firstSeen: 't1' });
    // Core 1's copy deleted and installed again between dumps while core 0's went on.
    t.apply(dump({ 0: 5, 1: 1 }), 't4');
    expect(t.live.get(UFID)).toMatchObject({ packets: 19 + 4 + 5 + 1, firstSeen: 't1' });
  });

  it('ends counters_reset when no copy went on, actions_changed when none kept the actions', () => {
    const t = new DatapathFlowTable();
    t.apply(dump({ 0: 19, 1: 2 }), 't1');
    const reset = t.apply(dump({ 0: 1, 1: 1 }), 't2');
    expect(reset.events.map((e) => [e.type, e.type === 'ukey_removed' ? e.reason : null])).toEqual([['ukey_removed', 'counters_reset'], ['ukey_created', null]]);
    expect(t.live.get(UFID)).toMatchObject({ packets: 2, firstSeen: 't2' });
    const changed = t.apply(dump({ 0: 3, 1: 3 }, 'drop'), 't3');
    expect(changed.events.map((e) => [e.type, e.type === 'ukey_removed' ? e.reason : null])).toEqual([['ukey_removed', 'actions_changed'], ['ukey_created', null]]);
  });

  it("names for ofproto/detrace a copy that has the lifetime's actions, not another PMD's", () => {
    // The revalidators update each PMD's copy on its own: a dump may list core 0's copy with its new
    // actions while core 1's still has the lifetime's. The lifetime goes on through core 1's copy,
    // so a detrace (a ukey is found by UFID and pmd) must ask core 1, or it reads core 0's rules.
    const t = new DatapathFlowTable();
    t.apply(dump({ 0: 19, 1: 2 }), 't1');
    const text = `flow-dump from pmd on cpu core: 0\n${line(25, 'drop')}\nflow-dump from pmd on cpu core: 1\n${line(5)}`;
    const r = t.apply(parseDumpFlows(text, { build: 'on-read' }).items, 't2');
    expect(r.events.map((e) => e.type)).toEqual(['ukey_updated']);
    const f = t.live.get(UFID)!;
    expect(f).toMatchObject({ actions: 'brp,p2', packets: 19 + 5 });
    expect(detraceArgs(f)).toEqual([`ufid:${UFID}`, 'pmd=1']);
    expect(f.flow.actionsText).toBe('brp,p2');
  });
});
