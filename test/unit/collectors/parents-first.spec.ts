// parentsFirst over recorded datapath flows (test/fixtures/paths/lb-vip-reused-recirc.json, a real
// load-balanced connection whose egress pass 0x12 is the child of 0x19 and 0x17): the poller's
// recirculation index finds the recorded edges again, and the tracer considers every flow after
// its parents, where ordering by recirc id number put the egress pass right after the root.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentsFirst } from '../../../src/collectors/parents-first';
import { IndexedFlow, RecircIndex } from '../../../src/collectors/recirc-index';
import { parseDumpLine } from '../../../src/ovs/dump-flows';
import { indexedFlow } from '../../support/packet-paths';

interface FlowRow {
  id: number;
  ufid: string;
  key: string;
  actions: string;
  recirc_id: string;
}
const FIXTURE = JSON.parse(readFileSync(join(__dirname, '../../fixtures/paths/lb-vip-reused-recirc.json'), 'utf8')) as {
  datapath_flow: FlowRow[];
  recirc_edge: Array<{ parent_id: number; child_id: number }>;
};

describe('parentsFirst', () => {
  // The flows as the poller re-reads stored lifetimes (poller.service.ts seedFromStore).
  const flows = FIXTURE.datapath_flow.map((r) => ({ id: r.id, ...indexedFlow(parseDumpLine(`ufid:${r.ufid}, ${r.key}, packets:0, bytes:0, used:never, actions:${r.actions}`)) }));
  const index = new RecircIndex<IndexedFlow & { id: number }>();
  for (const f of flows) index.add(f);
  const parentsOf = (f: (typeof flows)[number]) => index.parentsOf(f);

  it('the recirculation index links the recorded flows as the poller recorded them', () => {
    const found = flows.flatMap((c) => parentsOf(c).map((p) => `${p.id}->${c.id}`)).sort();
    expect(found).toEqual(FIXTURE.recirc_edge.map((e) => `${e.parent_id}->${e.child_id}`).sort());
  });

  it('puts every flow after its parents, whatever order the batch came in', () => {
    const byNumber = [...flows].sort((a, b) => a.recircId - b.recircId);
    // The old order: the egress pass (0x12) before the passes that recirculate into it.
    expect(byNumber.map((f) => f.recircId).slice(0, 2)).toEqual([0, 0x12]);
    for (const batch of [byNumber, [...flows].reverse(), flows]) {
      const order = parentsFirst(batch, parentsOf);
      expect(new Set(order)).toEqual(new Set(batch));
      for (const c of order) for (const p of parentsOf(c)) expect(order.indexOf(p)).toBeLessThan(order.indexOf(c));
    }
  });

  it('keeps flows whose parents are not in the batch, and survives a cycle', () => {
    const a = { n: 'a' };
    const b = { n: 'b' };
    const c = { n: 'c' };
    const parents = new Map<object, Array<{ n: string }>>([
      [a, [b]],
      [b, [a]],
      [c, [{ n: 'outside' }]],
    ]);
    expect(parentsFirst([a, b, c], (f) => parents.get(f) ?? [])).toEqual([b, a, c]);
  });
});
