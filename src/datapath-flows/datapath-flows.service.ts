// Datapath flow lifetimes as the API shows them (stored by datapath-flow-store.ts), with their
// traces and recirculation neighbours.
import { Injectable } from '@nestjs/common';
import { notFound } from '../common/api-error';
import { Page, page } from '../common/query';
import { TraceStore } from '../traces/trace-store';
import { TracesService } from '../traces/traces.service';
import { DatapathFlowJson, DatapathFlowStore } from './datapath-flow-store';

@Injectable()
export class DatapathFlowsService {
  constructor(
    private readonly flows: DatapathFlowStore,
    private readonly traceStore: TraceStore,
    private readonly traces: TracesService,
  ) {}

  list(f: { state?: 'live' | 'removed'; logicalPort?: string; chassis?: string; cursor?: number; limit: number }): Page<DatapathFlowJson> {
    const { logicalPort, ...rest } = f;
    return page(this.flows.list({ ...rest, tracedOnPort: logicalPort ? this.traces.resolvePort(logicalPort) : undefined }), f.limit);
  }

  /** Every lifetime of a UFID, newest first, with its traces and recirculation neighbours. */
  lifetimes(ufid: string) {
    const rows = this.flows.lifetimesOf(ufid);
    if (!rows.length) throw notFound(`no datapath flow with UFID ${ufid}`);
    return {
      ufid,
      lifetimes: rows.map((r) => ({
        ...r,
        traces: this.traceStore.ofDatapathFlow(r.id),
        parents: this.flows.parentsOf(r.id),
        children: this.flows.childrenOf(r.id),
      })),
    };
  }
}
