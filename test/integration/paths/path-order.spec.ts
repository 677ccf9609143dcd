// Recirculation ids are reused: the same number names passes of different packets, and a pass can
// recirculate into a smaller number than its own. On a real migrated store, with the passes of the
// captured acl-drop packet (three passes, lsp1 → dropped by the to-lport ACL) recorded by the
// tracer's recorder in scrambled order as two packets with swapped recirc ids (0 → 7 → 3 and
// 0 → 3 → 7), GET /paths/:id (PathsService) and the cross-check (PathBuilder.ofTrace, from any
// pass) give the passes in edge order, and the stored verdict is the one recomputed from the rows.
import 'reflect-metadata';
import type { AnnotatedTrace } from '../../../src/correlation/types';
import { formatKey } from '../../../src/ovs/odp-key';
import { NorthboundPorts } from '../../../src/paths/northbound-ports';
import { PathBuilder } from '../../../src/paths/path-builder';
import { PathRecorder } from '../../../src/paths/path-recorder';
import { passOfStored, pathVerdict } from '../../../src/paths/path-verdict';
import { PathsService } from '../../../src/paths/paths.service';
import type { ReplicasService } from '../../../src/replicas/replicas.service';
import { scenarioNodes } from '../../support/captured-paths';
import { nodeEdges, PassNode } from '../../support/packet-paths';
import { capturedModel, capturedReplicas } from '../../support/captured-model';
import { oneChassis, usePathStores } from '../../support/cross-chassis';

const hex = (n: number) => '0x' + n.toString(16);

/** The captured pass as if its flow had recirc_id `own` and recirculated into `next`. */
function renumbered(t: AnnotatedTrace, own: number, next: number | null): AnnotatedTrace {
  return {
    ...t,
    recircId: hex(own),
    datapathActions: next === null ? t.datapathActions : t.datapathActions.replace(/recirc\(0x[0-9a-f]+\)/, `recirc(${hex(next)})`),
    verdict: { ...t.verdict, recircIds: next === null ? [] : [hex(next)] },
  };
}

/** The acl-drop packet's passes, root first (by the captured flows' own recirculation edges). */
function chain(): PassNode[] {
  const nodes = scenarioNodes('acl-drop', capturedModel());
  const edges = nodeEdges(nodes);
  const root = nodes.findIndex((_, i) => !edges.some((e) => e.child === i));
  const out = [root];
  for (let next = edges.find((e) => e.parent === root); next; next = edges.find((e) => e.parent === out[out.length - 1])) out.push(next.child);
  return out.map((i) => nodes[i]);
}

describe('a path with reused recirculation ids', () => {
  const s = usePathStores('livetrace-path-order-');
  let builder: PathBuilder;
  let recorder: PathRecorder;
  let paths: PathsService;

  beforeAll(async () => {
    const { writer, traces, store } = s;
    builder = new PathBuilder(store);
    recorder = new PathRecorder({ writer }, store, traces, new NorthboundPorts(capturedReplicas() as unknown as ReplicasService));
    paths = new PathsService(builder, traces, oneChassis(store));
  });

  /** Stores the packet's flows and edges as the poller does, then records its passes in the given order. */
  async function packet(tag: number, recircs: number[], recordOrder: number[]): Promise<{ pathId: number; traceIds: number[]; flowIds: number[] }> {
    const passes = chain();
    expect(passes).toHaveLength(recircs.length);
    const at = new Date().toISOString();
    const flowIds = await s.writer.submit((tx) => {
      const ids = passes.map((n, i) =>
        Number(
          tx
            .stmt(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source) VALUES ('hv1', ?, ?, ?, ?, ?, ?, 1, 1, 'poller')`)
            .run(`${tag}${n.ufid.slice(1)}`, at, at, hex(recircs[i]), formatKey(n.flow.flow.key).replace(/recirc_id\([^)]*\)/, `recirc_id(${hex(recircs[i])})`), n.trace.datapathActions).lastInsertRowid,
        ),
      );
      for (let i = 1; i < ids.length; i++) tx.stmt('INSERT INTO recirc_edge (parent_id, child_id, recirc_id) VALUES (?, ?, ?)').run(ids[i - 1], ids[i], hex(recircs[i]));
      return ids;
    });
    const traceIds: number[] = [];
    let pathId = 0;
    for (const i of recordOrder) {
      const r = await recorder.record({
        flow: { dbId: flowIds[i], recircId: recircs[i], ufid: `${tag}${passes[i].ufid.slice(1)}` },
        parents: i ? [flowIds[i - 1]] : [],
        children: i < passes.length - 1 ? [flowIds[i + 1]] : [],
        trace: renumbered(passes[i].trace, recircs[i], recircs[i + 1] ?? null),
        chassis: 'hv1',
        consistent: true,
        sessionIds: [],
        methodReason: 'test',
      });
      traceIds[i] = r.traceId;
      pathId = r.pathId;
    }
    return { pathId, traceIds, flowIds };
  }

  it('GET /paths/:id and the cross-check give the passes in edge order, not by recirc id number', async () => {
    // Leaf first, then root, then the middle pass that links them: three paths merged into one.
    const a = await packet(1, [0, 7, 3], [2, 0, 1]);
    const b = await packet(2, [0, 3, 7], [1, 2, 0]);
    for (const [p, recircs] of [
      [a, ['0x0', '0x7', '0x3']],
      [b, ['0x0', '0x3', '0x7']],
    ] as const) {
      const got = await paths.get(p.pathId, false);
      expect(got.passes.map((x) => x.id)).toEqual(p.traceIds);
      expect(got.passes.map((x) => x.recircId)).toEqual(recircs);
      expect(got.edges).toHaveLength(2);
      // The cross-check builds its path from any of the packet's traces: the same passes, same order.
      for (const id of p.traceIds) expect((await builder.ofTrace(id))!.passes.map((r) => r.id)).toEqual(p.traceIds);
      // What ordering by recirc id number gave (the old GET /paths/:id): wrong for the first packet.
      const byNumber = [...got.passes].sort((x, y) => Number(x.recircId) - Number(y.recircId)).map((x) => x.id);
      if (p === a) expect(byNumber).not.toEqual(p.traceIds);
      // The tracer's stored verdict is the one verdict function over the stored passes in edge order.
      const rows = (await builder.ofPath(p.pathId))!.passes;
      const recomputed = pathVerdict(rows.map((r) => ({ traceId: r.id, recircId: Number(r.recirc_id), pass: passOfStored(JSON.parse(r.verdict)) })));
      expect(got.verdict).toEqual(recomputed);
      expect(got.verdict).toMatchObject({ kinds: ['drop'], passes: 3, incomplete: false, dropTraceId: p.traceIds[2] });
    }
    // Two packets, two paths, though their recirc ids are the same numbers.
    expect(a.pathId).not.toBe(b.pathId);
    expect((s.db.prepare('SELECT count(*) AS n FROM path').get() as { n: number }).n).toBe(2);
  });

  it("a later packet sharing the first and last passes (megaflows) gets its own path, and the first packet's path does not take its pass", async () => {
    const a = await packet(3, [0, 7, 3], [0, 1, 2]);
    // The later packet: the same root megaflow, its own middle pass with the same recirc id as the
    // first packet's (0x7), recirculating into the first packet's last pass (a shared megaflow).
    const mid = chain()[1];
    const at = new Date().toISOString();
    const x = await s.writer.submit((tx) => {
      const id = Number(
        tx
          .stmt(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source) VALUES ('hv1', ?, ?, ?, '0x7', 'recirc_id(0x7)', ?, 1, 1, 'poller')`)
          .run(`4${mid.ufid.slice(1)}`, at, at, mid.trace.datapathActions).lastInsertRowid,
      );
      tx.stmt(`INSERT INTO recirc_edge (parent_id, child_id, recirc_id) VALUES (?, ?, '0x7')`).run(a.flowIds[0], id);
      tx.stmt(`INSERT INTO recirc_edge (parent_id, child_id, recirc_id) VALUES (?, ?, '0x3')`).run(id, a.flowIds[2]);
      return id;
    });
    const r = await recorder.record({
      flow: { dbId: x, recircId: 7, ufid: `4${mid.ufid.slice(1)}` },
      parents: [a.flowIds[0]],
      children: [a.flowIds[2]],
      trace: renumbered(mid.trace, 7, 3),
      chassis: 'hv1',
      consistent: true,
      sessionIds: [],
      methodReason: 'test',
    });
    expect(r.pathId).not.toBe(a.pathId);
    expect((await paths.get(a.pathId, false)).passes.map((p) => p.id)).toEqual(a.traceIds);
    const later = await paths.get(r.pathId, false);
    expect(later.passes.map((p) => p.id)).toEqual([a.traceIds[0], r.traceId, a.traceIds[2]]);
    expect(later.verdict).toMatchObject({ kinds: ['drop'], passes: 3, incomplete: false, dropTraceId: a.traceIds[2] });
    for (const id of [r.traceId]) expect((await builder.ofTrace(id))!.passes.map((p) => p.id)).toEqual(later.passes.map((p) => p.id));
  });
});
