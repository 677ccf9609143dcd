// edgeOrder: a packet's passes along the recirculation edges, whatever their recirc id numbers and
// whatever order they were traced in.
import { edgeOrder, OrderedPass } from '../../../src/paths/edge-order';

const pass = (traceId: number, flowId: number | null, recircId: number): OrderedPass => ({ traceId, flowId, recircId });
const ids = (ps: OrderedPass[]) => ps.map((p) => p.traceId);

describe('edgeOrder', () => {
  it('follows the edges, not the recirc id numbers nor the trace order', () => {
    // Flow 10 (recirc 0) → 11 (recirc 9) → 12 (recirc 2); traced leaf first.
    const passes = [pass(1, 12, 2), pass(2, 11, 9), pass(3, 10, 0)];
    const edges = [
      { parent: 11, child: 12 },
      { parent: 10, child: 11 },
    ];
    expect(ids(edgeOrder(passes, edges))).toEqual([3, 2, 1]);
  });

  it('puts the recirc_id 0 root first, then other roots (a tail whose parent is not in the path) in trace order', () => {
    const passes = [pass(5, 20, 4), pass(6, 21, 0), pass(7, 22, 8)];
    expect(ids(edgeOrder(passes, [{ parent: 21, child: 22 }]))).toEqual([6, 7, 5]);
  });

  it('gives siblings (a select group) in trace order, each followed by its own children', () => {
    const passes = [pass(1, 1, 0), pass(4, 3, 5), pass(2, 2, 5), pass(3, 4, 1)];
    const edges = [
      { parent: 1, child: 3 },
      { parent: 1, child: 2 },
      { parent: 2, child: 4 },
    ];
    expect(ids(edgeOrder(passes, edges))).toEqual([1, 2, 3, 4]);
  });

  it('keeps every pass once: edges to flows outside the path and self-edges are ignored, a cycle comes last in trace order', () => {
    const passes = [pass(1, 1, 0), pass(2, 2, 3), pass(3, 3, 1), pass(4, null, 7)];
    const edges = [
      { parent: 1, child: 2 },
      { parent: 2, child: 3 },
      { parent: 3, child: 2 },
      { parent: 2, child: 2 },
      { parent: 9, child: 1 },
    ];
    // 2 and 3 recirculate into each other (bad data): neither has all its parents placed.
    expect(ids(edgeOrder(passes, edges))).toEqual([1, 4, 2, 3]);
  });

  it('keeps two traces of one datapath flow together', () => {
    const passes = [pass(1, 1, 0), pass(3, 2, 6), pass(2, 1, 0)];
    expect(ids(edgeOrder(passes, [{ parent: 1, child: 2 }]))).toEqual([1, 2, 3]);
  });
});

describe('edgeOrder with a pass two parents recirculate into', () => {
  it('places it after both parents (topological), each chain depth first', () => {
    // 1 (root) → 2 → 3 → 5, and 1 → 4 → 5: pass 5 waits for 3 and 4.
    const passes = [pass(1, 1, 0), pass(2, 2, 3), pass(3, 3, 4), pass(4, 4, 3), pass(5, 5, 6)];
    const edges = [
      { parent: 1, child: 2 },
      { parent: 2, child: 3 },
      { parent: 3, child: 5 },
      { parent: 1, child: 4 },
      { parent: 4, child: 5 },
    ];
    expect(ids(edgeOrder(passes, edges))).toEqual([1, 2, 3, 4, 5]);
  });

  const hand = (traceId: number, recircId: number, queued: number[]): OrderedPass => ({ traceId, flowId: null, recircId, queued });

  it("orders a hand-typed flow's passes (stored in ofproto/trace's order) chain by chain, by what each queued", () => {
    // ofproto/trace's passes: 0 queues 0x5 and 0x9, 0x5 queues 0x3; run first in, first out: 0, 0x5, 0x9, 0x3.
    const passes = [hand(40, 0, [0x5, 0x9]), hand(41, 0x5, [0x3]), hand(42, 0x9, []), hand(43, 0x3, [])];
    expect(ids(edgeOrder(passes, []))).toEqual([40, 41, 43, 42]);
    // A live flow's pass never links to a flowless one by recirc id: only recirc_edge rows link flows.
    expect(ids(edgeOrder([pass(1, 7, 0x5), hand(2, 0, [0x5])], []))).toEqual([2, 1]);
  });

  it("links a recirc id queued twice to each pass that queued it, ofproto/trace's queue first in, first out", () => {
    // Two ct() of the first pass froze the same state (one id, 0x2, twice); each 0x2 pass queued its own 0x3.
    const passes = [hand(1, 0, [0x2, 0x2]), hand(2, 0x2, [0x3]), hand(3, 0x2, [0x3]), hand(4, 0x3, []), hand(5, 0x3, [])];
    expect(ids(edgeOrder(passes, []))).toEqual([1, 2, 4, 3, 5]);
    // A loop to the recirculation limit (ct(table=0) in table 0: every pass queues 0x1 again) is one chain.
    const loop = [hand(10, 0, [0x1]), ...Array.from({ length: 4097 }, (_, i) => hand(11 + i, 0x1, [0x1]))];
    expect(ids(edgeOrder(loop, []))).toEqual(ids(loop));
  });

  it('never links a live pass without a datapath flow by what it queued', () => {
    // Passes the tracer stored before the poller had the flow's lifetime (no flowId, no queued): roots in trace order.
    expect(ids(edgeOrder([pass(1, null, 0x5), pass(2, null, 0), { ...pass(3, null, 0x7) }], []))).toEqual([2, 1, 3]);
  });
});
