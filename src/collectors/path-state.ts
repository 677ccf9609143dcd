// The passes of one packet as they are traced (in any order), and the path verdict: where the
// packet finally went, or which logical flow and northbound object dropped it.
import type { AnnotatedTrace, TracePort } from '../correlation/types';

/** What a path needs of a pass: its ports and verdict (not its steps: memory grows with live flows). */
export type PassSummary = Pick<AnnotatedTrace, 'ports' | 'verdict'>;

export const summarise = (t: PassSummary): PassSummary => ({ ports: t.ports, verdict: t.verdict });

export class PathState {
  readonly traceIds: number[] = [];
  private readonly passes: Array<{ traceId: number; recircId: number; trace: PassSummary }> = [];

  add(traceId: number, recircId: number, trace: PassSummary): void {
    this.traceIds.push(traceId);
    this.passes.push({ traceId, recircId, trace: summarise(trace) });
  }

  hasRecirc(recircId: number): boolean {
    return this.passes.some((p) => p.recircId === recircId);
  }

  recircIds(): Set<number> {
    return new Set(this.passes.map((p) => p.recircId));
  }

  /** Takes the passes of another path of the same packet. */
  absorb(other: PathState): void {
    for (const p of other.passes) this.add(p.traceId, p.recircId, p.trace);
  }

  ports(): TracePort[] {
    const seen = new Map<string, TracePort>();
    for (const p of this.passes) for (const port of p.trace.ports) seen.set(`${port.logicalPort}/${port.role}`, port);
    return [...seen.values()];
  }

  ordered(): Array<{ traceId: number; recircId: number; trace: PassSummary }> {
    return [...this.passes].sort((a, b) => a.recircId - b.recircId || a.traceId - b.traceId);
  }
}

export interface StoredPathVerdict {
  kinds: string[];
  logicalPorts: string[];
  logicalFlow: string | null;
  northbound: unknown;
  passes: number;
  /** A recirculation whose next pass has not been traced (yet). */
  incomplete: boolean;
  dropTraceId: number | null;
}

export function pathVerdictOf(p: PathState): StoredPathVerdict {
  const passes = p.ordered();
  const drop = passes.find((x) => x.trace.verdict.kind === 'drop');
  const outputs = [...new Set(passes.flatMap((x) => x.trace.verdict.outputs))];
  const kinds = new Set<string>();
  for (const x of passes) {
    const v = x.trace.verdict;
    if (v.outputs.length) kinds.add('output');
    if (v.tunnels.length) kinds.add('tunnel');
    if (v.kind === 'drop') kinds.add('drop');
    if (v.kind === 'controller') kinds.add('controller');
  }
  const queued = new Set(passes.flatMap((x) => x.trace.verdict.recircIds.map((r) => Number(r))));
  const have = new Set(passes.map((x) => x.recircId));
  const incomplete = [...queued].some((r) => !have.has(r));
  if (!kinds.size) kinds.add('recirculate');
  return {
    kinds: [...kinds],
    logicalPorts: outputs,
    logicalFlow: drop?.trace.verdict.dropBy?.logicalFlowUuid ?? null,
    northbound: drop?.trace.verdict.dropBy?.hint ?? null,
    passes: passes.length,
    incomplete,
    dropTraceId: drop?.traceId ?? null,
  };
}
