import { Injectable } from '@nestjs/common';
import { notFound } from '../common/api-error';
import { TraceStore } from '../traces/trace-store';
import { CrossChassisPaths } from './cross-chassis';
import { PathBuilder } from './path-builder';

@Injectable()
export class PathsService {
  constructor(
    private readonly builder: PathBuilder,
    private readonly traces: TraceStore,
    private readonly crossChassis: CrossChassisPaths,
  ) {}

  /** The passes of one packet in edge order (path-builder.ts), with the path verdict. */
  async get(id: number, withSteps: boolean) {
    const built = await this.builder.ofPath(id);
    if (!built) throw notFound(`no path ${id}`);
    const p = built.path!;
    // Across chassis: every chassis's passes in order (each pass names its chassis), one verdict.
    const across = await this.crossChassis.extend(built, (traceId) => this.builder.ofTrace(traceId));
    const segments = across ? across.segments.map((s) => s.built) : [built];
    return {
      id: p.id,
      chassis: p.chassis,
      createdAt: p.created_at,
      updatedAt: p.updated_at,
      verdict: across ? across.verdict : built.verdict,
      passes: await this.traces.fromRows(segments.flatMap((b) => b.passes), withSteps),
      edges: segments.flatMap((b) => b.edges).map((e) => ({ parentDatapathFlowId: e.parent_id, childDatapathFlowId: e.child_id, recircId: e.recirc_id })),
    };
  }
}
