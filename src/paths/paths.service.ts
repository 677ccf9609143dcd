import { Injectable } from '@nestjs/common';
import { notFound } from '../common/api-error';
import { TraceStore } from '../traces/trace-store';
import { PathBuilder } from './path-builder';

@Injectable()
export class PathsService {
  constructor(
    private readonly builder: PathBuilder,
    private readonly traces: TraceStore,
  ) {}

  /** The passes of one packet in edge order (path-builder.ts), with the path verdict. */
  get(id: number, withSteps: boolean) {
    const built = this.builder.ofPath(id);
    if (!built) throw notFound(`no path ${id}`);
    const p = built.path!;
    return {
      id: p.id,
      chassis: p.chassis,
      createdAt: p.created_at,
      updatedAt: p.updated_at,
      verdict: built.verdict,
      passes: this.traces.fromRows(built.passes, withSteps),
      edges: built.edges.map((e) => ({ parentDatapathFlowId: e.parent_id, childDatapathFlowId: e.child_id, recircId: e.recirc_id })),
    };
  }
}
