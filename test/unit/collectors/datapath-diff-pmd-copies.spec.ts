// The same datapath flow on two PMD threads (one copy each, same UFID, own counters), as a real
// userspace datapath with two PMDs dumped it (test/support/pmd-copies-dump.ts).
// test/e2e/poller-multi-pmd.e2e-spec.ts is the same case on a live daemon; this one pins the arithmetic.
import { DatapathFlowTable } from '../../../src/collectors/datapath-diff';
import { detraceArgs } from '../../../src/collectors/detrace-pass';
import { parseDumpFlows } from '../../../src/ovs/dump-flows';
import { PMD_FLOW_UFID as UFID, pmdCopiesDump as dump, pmdCopyLine as line } from '../../support/pmd-copies-dump';

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
