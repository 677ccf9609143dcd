// POST /ingest/*: validated events → annotated where they are translations → written in
// chunks through the single writer. The answer is given only once every chunk has committed,
// so "accepted" means "on disk".
import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { Counter } from 'prom-client';
import { annotatePass } from '../correlation/annotate';
import { MetricsService } from '../metrics/metrics.service';
import { recircIdHex } from '../ovs/ids';
import { ReplicasService } from '../replicas/replicas.service';
import { DatapathFlowStore } from '../datapath-flows/datapath-flow-store';
import { StoreService } from '../storage/store.service';
import { TraceStore } from '../traces/trace-store';
import { UpcallStore } from '../upcalls/upcall-store';
import { UpcallsService } from '../upcalls/upcalls.service';
import { IngestStore } from './ingest-store';
import { LineRejection, ParsedLine, parseEventLines } from './ndjson';
import { parseRetis } from './retis-adapter';
import { IngestStores, Prepared, writeEvents } from './ingest-write';
import { passOfTranslation } from './translation';
import type { EventV1 } from './event-schema';

export interface IngestResult {
  /** Valid lines (stored now, or already stored under the same source and id). */
  accepted: number;
  rejected: number;
  /** Accepted lines whose (source, id) was already stored: not stored twice. */
  duplicates: number;
  /** retis only: lines of other collectors, nothing to store. */
  ignored?: number;
  /** One per rejected line, in line order (at most MAX_ERRORS). */
  errors: LineRejection[];
  errorsTruncated?: boolean;
}

const CHUNK = 500;
const MAX_ERRORS = 1000;

@Injectable()
export class IngestService {
  private readonly m: { lines: Counter };
  private readonly stores: IngestStores;

  constructor(
    private readonly storage: StoreService,
    ledger: IngestStore,
    flows: DatapathFlowStore,
    upcallStore: UpcallStore,
    traces: TraceStore,
    private readonly upcalls: UpcallsService,
    private readonly replicas: ReplicasService,
    metrics: MetricsService,
  ) {
    this.stores = { ledger, flows, upcalls: upcallStore, traces };
    this.m = {
      lines: new Counter({ name: 'livetrace_ingest_lines_total', help: 'Ingested lines by outcome', labelNames: ['format', 'outcome'], registers: [metrics.registry] }),
    };
  }

  ingestNdjson(text: string | Buffer, source: string | undefined): Promise<IngestResult> {
    const batch = parseEventLines(text);
    return this.store(batch.events, batch.rejected, source, 'ndjson');
  }

  async ingestRetis(text: string | Buffer, source: string | undefined): Promise<IngestResult> {
    const batch = parseRetis(text, { now: Date.now() });
    const r = await this.store(batch.events, batch.rejected, source ?? 'retis', 'retis');
    return { ...r, ignored: batch.ignored };
  }

  private async store(events: ParsedLine<EventV1>[], rejected: LineRejection[], source: string | undefined, format: string): Promise<IngestResult> {
    // With PostgreSQL away long enough the spool is full (LIVETRACE_SPOOL_MAX_CHANGES). The tracer
    // drops its new traces, counted; a producer's batch is refused whole instead, so it keeps it
    // and sends it again: the bound holds, and nothing it was told was stored is lost.
    const spool = this.storage.shipper?.state;
    if (spool?.full && events.length) {
      this.m.lines.inc({ format, outcome: 'refused_spool_full' }, events.length);
      throw new ApiError(503, `the spool is full (${spool.backlog} changes waiting for PostgreSQL: LIVETRACE_SPOOL_MAX_CHANGES): nothing of this batch was stored; send it again once /health says central is up`, 'spool');
    }
    const chassis = this.upcalls.chassis;
    const prepared: Prepared[] = [];
    for (const { line, event } of events) {
      const p: Prepared = { line, event, source: event.source ?? source ?? 'ingest', chassis: event.chassis ?? chassis };
      if (event.type === 'translation') {
        const pass = passOfTranslation(event);
        if ('reason' in pass) {
          rejected.push({ line, reason: pass.reason });
          continue;
        }
        let recircId: string | undefined;
        try {
          recircId = event.recircId ? recircIdHex(event.recircId) : undefined;
        } catch (err) {
          rejected.push({ line, reason: `recircId: ${(err as Error).message}` }); // 10 decimal digits can exceed 32 bits
          continue;
        }
        const trace = annotatePass(pass.pass, this.replicas.model, {
          method: 'ingested',
          recircId,
          inPort: event.inPort,
          chassis: p.chassis,
        });
        prepared.push({ ...p, trace });
      } else {
        prepared.push(p);
      }
    }
    const receivedAt = new Date().toISOString();
    const jobs: Array<Promise<{ stored: number; duplicates: number }>> = [];
    for (let i = 0; i < prepared.length; i += CHUNK) {
      const chunk = prepared.slice(i, i + CHUNK);
      jobs.push(this.storage.writer.submit((tx) => writeEvents(tx, chunk, receivedAt, this.stores)));
    }
    const done = await Promise.all(jobs);
    const duplicates = done.reduce((n, d) => n + d.duplicates, 0);
    rejected.sort((a, b) => a.line - b.line);
    this.m.lines.inc({ format, outcome: 'stored' }, prepared.length - duplicates);
    this.m.lines.inc({ format, outcome: 'duplicate' }, duplicates);
    this.m.lines.inc({ format, outcome: 'rejected' }, rejected.length);
    return {
      accepted: prepared.length,
      rejected: rejected.length,
      duplicates,
      errors: rejected.slice(0, MAX_ERRORS),
      ...(rejected.length > MAX_ERRORS ? { errorsTruncated: true } : {}),
    };
  }
}
