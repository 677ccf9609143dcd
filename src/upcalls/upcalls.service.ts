// Upcalls as the API shows them (stored by upcall-store.ts), with what the log source reports
// about itself.
import { Injectable } from '@nestjs/common';
import { hostname } from 'node:os';
import { notFound } from '../common/api-error';
import { Page, page } from '../common/query';
import { ReplicasService } from '../replicas/replicas.service';
import { TracesService } from '../traces/traces.service';
import { UpcallJson, UpcallStore } from './upcall-store';

export interface UpcallFilter {
  chassis?: string;
  ufid?: string;
  source?: string;
  upcallType?: string;
  linked?: boolean;
  logicalPort?: string;
  since?: string;
  until?: string;
  cursor?: number;
  limit: number;
}

/** What the log source reports about itself, shown beside /upcalls lists. */
export interface LogSourceStatus {
  enabled: boolean;
  /** Messages vswitchd said it dropped (`Dropped N log messages`) since start. */
  droppedMessages: number;
  /** Upcalls read from the log since start. */
  upcalls: number;
  /** Upcalls read and not stored since start: the spool was full (LIVETRACE_SPOOL_MAX_CHANGES). */
  droppedSpoolFull: number;
  /** Rotations seen (rename / truncate). */
  rotations: { renamed: number; truncated: number };
}

@Injectable()
export class UpcallsService {
  readonly logSource: LogSourceStatus = { enabled: false, droppedMessages: 0, upcalls: 0, droppedSpoolFull: 0, rotations: { renamed: 0, truncated: 0 } };

  constructor(
    private readonly store: UpcallStore,
    private readonly traces: TracesService,
    private readonly replicas: ReplicasService,
  ) {}

  get chassis(): string {
    return this.replicas.chassisName() ?? hostname();
  }

  async list(f: UpcallFilter): Promise<Page<UpcallJson> & { sampled: boolean; logSource: LogSourceStatus }> {
    const { logicalPort, ...rest } = f;
    const items = await this.store.list({ ...rest, portName: logicalPort ? await this.traces.resolvePort(logicalPort) : undefined });
    const p = page(items, f.limit);
    return { ...p, sampled: this.logSource.enabled || items.some((i) => i.sampled), logSource: this.logSource };
  }

  async get(id: number): Promise<UpcallJson> {
    const u = await this.store.get(id);
    if (!u) throw notFound(`no upcall ${id}`);
    return u;
  }
}
