// Datapath flow lifetimes as the API shows them (stored by datapath-flow-store.ts), with their
// traces and recirculation neighbours.
import { Injectable } from '@nestjs/common';
import { notFound } from '../common/api-error';
import { Page, page } from '../common/query';
import { TraceStore } from '../traces/trace-store';
import { TracesService } from '../traces/traces.service';
import type { DatapathFlowJson } from './datapath-flow-json';
import { DatapathFlowStore } from './datapath-flow-store';

@Injectable()
export class DatapathFlowsService {
  constructor(
    private readonly flows: DatapathFlowStore,
    private readonly traceStore: TraceStore,
    private readonly traces: TracesService,
  ) {}

  async list(f: { state?: 'live' | 'removed'; logicalPort?: string; chassis?: string; cursor?: number; limit: number }): Promise<Page<DatapathFlowJson>> {
    const { logicalPort, ...rest } = f;
    return page(await this.flows.list({ ...rest, tracedOnPort: logicalPort ? await this.traces.resolvePort(logicalPort) : undefined }), f.limit);
  }

  /** Every lifetime of a UFID, newest first, with its traces and recirculation neighbours. */
  async lifetimes(ufid: string) {
    const rows = await this.flows.lifetimesOf(ufid);
    if (!rows.length) throw notFound(`no datapath flow with UFID ${ufid}`);
    return {
      ufid,
      lifetimes: await Promise.all(
        rows.map(async (r) => ({
          ...r,
          traces: await this.traceStore.ofDatapathFlow(r.id),
          parents: await this.flows.parentsOf(r.id),
          children: await this.flows.childrenOf(r.id),
        })),
      ),
    };
  }
}
