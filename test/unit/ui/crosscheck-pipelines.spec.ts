// /ui/cross-checks/:id sets each live pipeline beside ovn-trace's by position. ovn-trace prints a
// flood's egress copies in its own order, and the cross-check compares them aligned with the live
// ones (src/cross-checks/fan-out.ts alignFloodCopies): on the tie captures (an IP broadcast from lsp1,
// scripts/capture-ovn-trace-fixtures --tie) the live egress to sw0-lr0 stood beside another copy, so
// the row marked as the tie showed no flow, or another's, where ovn-trace ran the tied one. The page
// now takes ovn-trace's pipelines in the order of the answer's `pipelines` (web/parse.ts alignedSegments).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareWithSimulation } from '../../../src/cross-checks/compare';
import { logicalFlowResolver } from '../../../src/cross-checks/live-segments';
import { parseOvnTrace } from '../../../src/cross-checks/ovn-trace-parse';
import { alignedSegments, liveSegments, simulatedSegments } from '../../../web/parse';
import { modelFromDumps } from '../../support/captured-model';
import { CAPTURED_OVN_TRACE, capturedVersions } from '../../support/captured-ovn-trace';

describe.each(capturedVersions('tie'))('%s', (version) => {
  const dir = join(CAPTURED_OVN_TRACE, version, 'tie');
  it.each(['tie-mcast', 'tie-router'])('%s: the tie row holds both tied flows, and every compared pipeline its own copy', (name) => {
    const path = JSON.parse(readFileSync(join(dir, `${name}-path.json`), 'utf8'));
    const text = readFileSync(join(dir, `${name}.ovn-trace.txt`), 'utf8');
    const xc = compareWithSimulation(path.passes, path.verdict, parseOvnTrace(text), logicalFlowResolver(modelFromDumps(dir, version, [], `${name}.`)));
    expect(xc.ties?.length).toBeGreaterThan(0);
    const sim = alignedSegments(simulatedSegments(text), xc.pipelines);
    const live = liveSegments(path.passes);
    for (const t of xc.ties!) {
      expect(live[t.pipelineIndex].entries.find((e) => e.tableId === t.tableId)?.uuid).toBe(t.live.uuid);
      expect(sim[t.pipelineIndex]?.entries.find((e) => e.tableId === t.tableId)?.uuid).toBe(t.simulated.uuid!.slice(0, 8));
    }
    expect(sim.slice(0, xc.pipelines.length).map((s) => [s?.pipeline, s?.datapath, s?.outport])).toEqual(
      xc.pipelines.map((p) => [p.pipeline, p.datapath, p.outport ?? s0(p.pipeline)]),
    );
    // Nothing of ovn-trace's is left out: the copies not compared follow.
    expect(sim.length).toBe(simulatedSegments(text).length);
  });
});

/** An ingress header names no outport. */
const s0 = (pipeline: string) => (pipeline === 'ingress' ? undefined : expect.any(String));
