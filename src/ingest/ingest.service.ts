// POST /ingest/*: validated events → annotated where they are translations → written in
// chunks through the single writer. The answer is given only once every chunk has committed,
// so "accepted" means "on disk". An NDJSON body is parsed a chunk at a time, the next one while
// the last is written: its parsed events were all held until its last chunk committed (~60 MB
// more for a 16 MB body, bench/ingest/RESULTS-memory.md).
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
import { eventBatches, LineRejection, ParsedBatch, ParsedLine } from './ndjson';
import { parseRetisYielding } from './retis-adapter';
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

/**
 * A whole body's events as batches of CHUNK, the rejected lines with the first: translations are
 * annotated a batch at a time (store), the event loop turning between them as the writer commits.
 */
function* inBatches(b: ParsedBatch<EventV1>): IterableIterator<ParsedBatch<EventV1>> {
  for (let i = 0; i < b.events.length || i === 0; i += CHUNK) yield { events: b.events.slice(i, i + CHUNK), rejected: i === 0 ? b.rejected : [] };
}

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
    return this.store(eventBatches(text, CHUNK), source, 'ndjson');
  }

  async ingestRetis(text: string | Buffer, source: string | undefined): Promise<IngestResult> {
    const batch = await parseRetisYielding(text, { now: Date.now() });
    const r = await this.store(inBatches(batch), source ?? 'retis', 'retis');
    return { ...r, ignored: batch.ignored };
  }

  /** `batches`: one iterator, the spool-full count going on from where the store stands in it (an array counted its batch twice). */
  private async store(batches: IterableIterator<ParsedBatch<EventV1>>, source: string | undefined, format: string): Promise<IngestResult> {
    const rejected: LineRejection[] = [];
    const receivedAt = new Date().toISOString();
    let accepted = 0;
    let duplicates = 0;
    let writing: Promise<{ stored: number; duplicates: number }> | undefined;
    for (const batch of batches) {
      for (const r of batch.rejected) rejected.push(r);
      const prepared = this.annotate(batch.events, rejected, source);
      for (let i = 0; i < prepared.length; i += CHUNK) {
        if (accepted === 0) this.refuseIfSpoolFull(format, prepared.length, batches);
        const chunk = prepared.slice(i, i + CHUNK);
        accepted += chunk.length;
        // One chunk in the writer while the next is parsed: the writer is kept busy, and a body's
        // events are held a chunk or two at a time.
        if (writing) duplicates += (await writing).duplicates;
        writing = this.storage.writer.submit((tx) => writeEvents(tx, chunk, receivedAt, this.stores));
      }
    }
    if (writing) duplicates += (await writing).duplicates;
    rejected.sort((a, b) => a.line - b.line);
    this.m.lines.inc({ format, outcome: 'stored' }, accepted - duplicates);
    this.m.lines.inc({ format, outcome: 'duplicate' }, duplicates);
    this.m.lines.inc({ format, outcome: 'rejected' }, rejected.length);
    return {
      accepted,
      rejected: rejected.length,
      duplicates,
      errors: rejected.slice(0, MAX_ERRORS),
      ...(rejected.length > MAX_ERRORS ? { errorsTruncated: true } : {}),
    };
  }

  /**
   * With PostgreSQL away long enough the spool is full (LIVETRACE_SPOOL_MAX_CHANGES). The tracer
   * drops its new traces, counted; a producer's batch is refused whole instead, so it keeps it and
   * sends it again: the bound holds, and nothing it was told was stored is lost. Asked before the
   * first chunk is written; the rest of the body is read only to count its events.
   */
  private refuseIfSpoolFull(format: string, first: number, rest: IterableIterator<ParsedBatch<EventV1>>): void {
    const spool = this.storage.shipper?.state;
    if (!spool?.full) return;
    let events = first;
    for (const b of rest) events += b.events.length;
    this.m.lines.inc({ format, outcome: 'refused_spool_full' }, events);
    throw new ApiError(503, `the spool is full (${spool.backlog} changes waiting for PostgreSQL: LIVETRACE_SPOOL_MAX_CHANGES): nothing of this batch was stored; send it again once /health says central is up`, 'spool');
  }

  /** Translations annotated (pure CPU, before the writer); a translation that cannot be is rejected by its line. */
  private annotate(events: readonly ParsedLine<EventV1>[], rejected: LineRejection[], source: string | undefined): Prepared[] {
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
    return prepared;
  }
}
