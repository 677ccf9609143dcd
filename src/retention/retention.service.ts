// Runs retention (retention.ts) every minute: one round computes the limits, then prunes batch
// after batch, each its own writer job awaited before the next, so live writes queue between
// batches and the event loop turns between them. With PostgreSQL and a central retention
// (LIVETRACE_CENTRAL_RETENTION_*), the round prunes the spool locally instead (spool-retention-store.ts:
// PostgreSQL keeps the rows) and then tries PostgreSQL's own retention (central-retention-store.ts).
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { CrossCheckStore } from '../cross-checks/cross-check-store';
import { UpcallStore } from '../upcalls/upcall-store';
import { IngestStore } from '../ingest/ingest-store';
import { Counter, Gauge } from 'prom-client';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { MetricsService } from '../metrics/metrics.service';
import { DatapathFlowStore, UNTRACED_START, type UntracedCursor } from '../datapath-flows/datapath-flow-store';
import { PathStore } from '../paths/path-store';
import { isAbandoned } from '../storage/pg-client';
import { slotRanged } from '../storage/slot-take';
import { StoreService } from '../storage/store.service';
import { TraceStore } from '../traces/trace-store';
import { centralRound, CentralRound } from './central-retention-store';
import { addBatch, cutoffOf, higher, pruneBatch, PruneResult, RetentionLimits, RetentionStores, rowLimitCut, UntracedLimits, untracedLimits } from './retention';
import { pruneSpoolBatch, pruneSpoolLedger, pruneSpoolRecords, pruneSpoolUntraced, QUIET_MS, spoolCut } from './spool-retention-store';
import { LOW_WATER, MB, NO_SIZE_CUT, type SizeCut, sizeCut, sizeRound, type SizeRound, storeSize, storeSizeRead } from './size-retention-store';
import type { WriteContext } from '../storage/writer';

type Records = NonNullable<RetentionStores['records']>[number];

/** Traces per batch: ~0.3 ms each at 1M traces (27 step rows, their index entries…), so a batch
 * holds the event loop for tens of ms, not the 0.1–0.7 s batches of 500 took (bench/api). */
export const RETENTION_BATCH = 100;
const ROUND_EVERY_MS = 60_000;

export interface RoundResult extends PruneResult {
  batches: number;
  seconds: number;
}

@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Retention');
  private timer?: NodeJS.Timeout;
  private running?: Promise<RoundResult>;
  private centralRunning?: Promise<CentralRound>;
  private stopped = false;
  private readonly pruned: Counter;
  private readonly centralPruned: Counter;
  private readonly sizePruned: Counter;
  private readonly stores: RetentionStores;

  constructor(
    private readonly store: StoreService,
    traces: TraceStore,
    paths: PathStore,
    flows: DatapathFlowStore,
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    metrics: MetricsService,
    @Optional() upcalls?: UpcallStore,
    @Optional() crossChecks?: CrossCheckStore,
    @Optional() private readonly ingest?: IngestStore,
  ) {
    this.stores = { traces, paths, flows, records: [upcalls, crossChecks].filter((r) => r !== undefined) };
    this.pruned = new Counter({ name: 'livetrace_retention_pruned_total', help: 'Rows pruned by retention (this process\'s store, or its spool)', labelNames: ['table'], registers: [metrics.registry] });
    this.sizePruned = new Counter({
      name: 'livetrace_retention_size_pruned_total',
      help: 'Rows pruned because the store passed LIVETRACE_RETENTION_MAX_MB (also counted in livetrace_retention_pruned_total)',
      labelNames: ['table'],
      registers: [metrics.registry],
    });
    // Measured when scraped, on the read connection, bound or not: a gauge set by the size rounds alone
    // read 0 (an empty store) whenever LIVETRACE_RETENTION_MAX_MB was unset, and before the first round.
    const read = store.db;
    new Gauge({
      name: 'livetrace_retention_store_used_bytes',
      help: "The store's used pages (page_count - freelist_count, times page_size; the spool's with PostgreSQL), what LIVETRACE_RETENTION_MAX_MB bounds",
      registers: [metrics.registry],
      collect() {
        // A read that fails (busy in a WAL recovery, the file gone) keeps the last value rather than
        // failing the whole scrape: prom-client turns a throwing collect into a 500 for every metric.
        try {
          if (read.open) this.set(storeSizeRead(read).usedBytes);
        } catch {
          /* the last value stands */
        }
      },
    });
    this.centralPruned = new Counter({
      name: 'livetrace_retention_central_pruned_total',
      help: 'Rows pruned from PostgreSQL by its own retention (LIVETRACE_CENTRAL_RETENTION_*) in this process\'s rounds',
      labelNames: ['table'],
      registers: [metrics.registry],
    });
  }

  /**
   * PostgreSQL keeps its own, longer history: the spool prunes locally without shipping deletes,
   * and PostgreSQL is pruned by its own limits. Unset (the default), PostgreSQL follows the spool.
   */
  get central(): boolean {
    return !!this.store.central && (this.config.LIVETRACE_CENTRAL_RETENTION_DAYS > 0 || this.config.LIVETRACE_CENTRAL_RETENTION_ROWS > 0);
  }

  get enabled(): boolean {
    return this.config.LIVETRACE_RETENTION_DAYS > 0 || this.config.LIVETRACE_RETENTION_ROWS > 0 || this.config.LIVETRACE_RETENTION_MAX_MB > 0 || this.central;
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    const c = this.config;
    if (this.central && c.LIVETRACE_CENTRAL_RETENTION_DAYS > 0 && c.LIVETRACE_RETENTION_DAYS > c.LIVETRACE_CENTRAL_RETENTION_DAYS)
      this.log.warn(
        `LIVETRACE_CENTRAL_RETENTION_DAYS=${c.LIVETRACE_CENTRAL_RETENTION_DAYS} is shorter than the spool's LIVETRACE_RETENTION_DAYS=${c.LIVETRACE_RETENTION_DAYS}: ` +
          'PostgreSQL may delete rows this agent still updates (they come back until they stop changing)',
      );
    this.timer = setInterval(() => {
      void this.round().catch((e: Error) => this.log.warn(`retention round failed: ${e.message}`));
      if (this.central)
        void this.centralRound().catch((e: Error) => {
          // Given up by a stop (ESHUTDOWN): not a failure, the next start's rounds redo it.
          if (!isAbandoned(e)) this.log.warn(`PostgreSQL retention round failed: ${e.message}`);
        });
    }, ROUND_EVERY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    await this.centralRunning?.catch(() => undefined);
  }

  /** One round: prune until nothing is over the limits (or the app stops). One at a time. */
  round(now = Date.now()): Promise<RoundResult> {
    this.running ??= this.prune(now).finally(() => (this.running = undefined));
    return this.running;
  }

  /** PostgreSQL's own retention, when this process gets its lock (else `ran: false`). One at a time. */
  centralRound(now = Date.now()): Promise<CentralRound> {
    if (!this.central) return Promise.resolve({ ran: false, traces: 0, paths: 0, datapathFlows: 0, batches: 0, seconds: 0 });
    this.centralRunning ??= centralRound(
      this.store.central!.pool,
      {
        days: this.config.LIVETRACE_CENTRAL_RETENTION_DAYS,
        keep: this.config.LIVETRACE_CENTRAL_RETENTION_ROWS,
        silentSlotHours: this.config.LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS,
        // The claim's bound and tables (storage/slot-take.ts): what this deletes, a claim then finds empty.
        deadSlots: { days: this.config.LIVETRACE_SLOT_REUSE_DAYS, ranged: slotRanged(this.store.db) },
      },
      now,
      {
        stopped: () => this.stopped,
        // A stop gives the round up at once (its connection destroyed): across a partition, its
        // statement in flight held the stop (onApplicationShutdown awaits it) up to SILENT_MS.
        abandon: this.store.stopSignal,
        onBatch: (r) => {
          this.centralPruned.inc({ table: 'trace' }, r.traces);
          this.centralPruned.inc({ table: 'path' }, r.paths);
          this.centralPruned.inc({ table: 'datapath_flow' }, r.datapathFlows);
          this.centralPruned.inc({ table: 'upcall_cross_check' }, r.records ?? 0);
          this.centralPruned.inc({ table: 'ingest_event' }, r.ingestEvents ?? 0);
          this.centralPruned.inc({ table: 'dead_slot_rules_snapshots_objects' }, r.leftovers ?? 0);
        },
      },
    )
      .then((r) => {
        if (r.traces || r.datapathFlows || r.records || r.ingestEvents || r.leftovers)
          this.log.log(
            `PostgreSQL: pruned ${r.traces} traces, ${r.paths} paths, ${r.datapathFlows} datapath flows, ${r.records ?? 0} upcalls and cross-checks, ${r.ingestEvents ?? 0} ingest events, ` +
              `${r.leftovers ?? 0} rules, logical flows and OVN objects of ${r.deadSlots ?? 0} writer slots gone for good in ${r.seconds.toFixed(1)} s`,
          );
        return r;
      })
      .finally(() => (this.centralRunning = undefined));
    return this.centralRunning;
  }

  /** The limits by age and count, then the bound by size. */
  private async prune(now: number): Promise<RoundResult> {
    const total = this.central ? await this.pruneSpool(now, NO_SIZE_CUT, false) : await this.pruneLocal(now, NO_SIZE_CUT);
    if (total.traces || total.datapathFlows || total.records || total.ingestEvents)
      this.log.log(
        `${this.central ? 'spool: ' : ''}pruned ${total.traces} traces${this.central ? ' shipped to PostgreSQL' : ''}, ${total.paths} paths, ${total.datapathFlows} datapath flows, ` +
          `${total.records ?? 0} upcalls and cross-checks, ${total.ingestEvents ?? 0} ingest events in ${total.seconds.toFixed(1)} s`,
      );
    const size = await this.pruneToSize(now);
    if (size) {
      addBatch(total, size);
      total.batches += size.batches - 1;
    }
    return total;
  }

  /**
   * LIVETRACE_RETENTION_MAX_MB (size-retention-store.ts): past it, the oldest traces go, cut as the
   * row limit cuts, until the used pages are under LOW_WATER of it. A spool (PostgreSQL) prunes only
   * what PostgreSQL already holds and the agent can no longer change, as its own retention does:
   * muted when PostgreSQL keeps its own history, shipped as deletes when it follows the spool.
   */
  private async pruneToSize(now: number): Promise<SizeRound | null> {
    const maxMb = this.config.LIVETRACE_RETENTION_MAX_MB;
    if (maxMb <= 0) return null;
    const w = this.store.writer;
    const file = w.db.name;
    const t0 = performance.now();
    const r = await sizeRound({
      boundBytes: maxMb * MB,
      measure: () => w.submit((tx) => storeSize(tx, file)),
      cut: (share) => w.submit((tx) => sizeCut(tx, share)),
      prune: (cut) => (this.store.central ? this.pruneSpool(now, cut, !this.central) : this.pruneLocal(now, cut)),
      stopped: () => this.stopped,
    });
    if (!r) return null;
    this.sizePruned.inc({ table: 'trace' }, r.traces);
    this.sizePruned.inc({ table: 'path' }, r.paths);
    this.sizePruned.inc({ table: 'datapath_flow' }, r.datapathFlows);
    this.sizePruned.inc({ table: 'upcall_cross_check' }, r.records ?? 0);
    this.sizePruned.inc({ table: 'ingest_event' }, r.ingestEvents ?? 0);
    const mb = (b: number) => (b / MB).toFixed(1);
    const line =
      `store over LIVETRACE_RETENTION_MAX_MB=${maxMb}: ${mb(r.from.usedBytes)} MB used, pruned the oldest ${r.traces} traces${this.store.central ? ' shipped to PostgreSQL' : ''}, ` +
      `${r.paths} paths, ${r.datapathFlows} datapath flows, ${r.records ?? 0} upcalls and cross-checks, ${r.ingestEvents ?? 0} ingest events in ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
      `${mb(r.to.usedBytes)} MB used (file ${mb(r.to.fileBytes)} MB with its free pages, WAL ${mb(r.to.walBytes)} MB)`;
    if (r.to.usedBytes <= maxMb * MB * LOW_WATER || this.stopped) this.log.log(line);
    else
      this.log.warn(
        `${line}, still over ${Math.round(LOW_WATER * 100)} % of the bound: the rest is what retention does not prune ` +
          `(rules, logical-flow snapshots, OVN objects, live lifetimes${this.store.central ? ', rows PostgreSQL does not hold yet' : ''})`,
      );
    return r;
  }

  /** SQLite's retention (and a spool's whose deletes PostgreSQL follows): the limits, and `size` as one more row limit of traces and of untraced lifetimes. */
  private async pruneLocal(now: number, size: Readonly<SizeCut>): Promise<RoundResult> {
    const t0 = performance.now();
    const w = this.store.writer;
    const keep = this.config.LIVETRACE_RETENTION_ROWS;
    const limits: RetentionLimits = {
      before: cutoffOf(now, this.config.LIVETRACE_RETENTION_DAYS),
      maxPrunedId: higher(keep > 0 ? await w.submit((tx) => rowLimitCut(tx, this.stores, keep)) : null, size.trace),
    };
    const total = await this.batches(t0, async () => {
      const r = await w.submit((tx) => pruneBatch(tx, this.stores, limits, RETENTION_BATCH));
      return r.traces ? r : null;
    });
    // Then the lifetimes no trace cites, by the same limits (never one ended within QUIET_MS: the
    // path recorder may still link a recirculation to it).
    const flowLimits = await this.pruneUntraced(t0, now, total, { before: limits.before, rowLimited: limits.maxPrunedId !== null, keep, sizeCut: size.flow }, (tx, o) =>
      this.stores.flows.pruneEndedUntraced(tx, o),
    );
    // Then upcalls and cross-checks: by the same time, and as many of each as traces are kept.
    await this.pruneRecords(t0, total, flowLimits.before, keep, (tx, records, o) => records.pruneOldest(tx, o));
    // Then the ingest ledger by the same limits, but for what it still answers for (IngestStore.pruneOldest).
    await this.pruneLedger(t0, now, total, flowLimits.before, keep, (tx, ledger, o) => ledger.pruneOldest(tx, o));
    return total;
  }

  /**
   * The spool's own retention when PostgreSQL keeps a longer one: what is over the spool's limits,
   * already in PostgreSQL and no longer changing goes locally, muted; the rest waits for a later round.
   * `size`: one more row limit of traces and of untraced lifetimes (LIVETRACE_RETENTION_MAX_MB); `ship`: the deletes are shipped (PostgreSQL follows the spool).
   */
  private async pruneSpool(now: number, size: Readonly<SizeCut>, ship: boolean): Promise<RoundResult> {
    const t0 = performance.now();
    const none: RoundResult = { traces: 0, paths: 0, datapathFlows: 0, batches: 0, seconds: 0 };
    const keep = this.config.LIVETRACE_RETENTION_ROWS;
    const before = cutoffOf(now, this.config.LIVETRACE_RETENTION_DAYS);
    if (keep <= 0 && before === null && size.trace === null && size.flow === null) return none;
    const w = this.store.writer;
    // Whether the row limit cuts traces (SQLite's round: maxPrunedId): only then does the oldest trace
    // kept bound the rows no trace takes; a cut by age alone would put that bound at the oldest trace
    // left, inside LIVETRACE_RETENTION_DAYS.
    const rowLimited = size.trace !== null || (keep > 0 && (await w.submit((tx) => this.stores.traces.idBeyondNewest(tx, keep))) !== null);
    const maxId = higher(await w.submit((tx) => spoolCut(tx, this.stores, { keep, before })), size.trace);
    const quietBefore = new Date(now - QUIET_MS).toISOString();
    let after = -1;
    const total =
      maxId === null
        ? none
        : await this.batches(t0, async () => {
            const r = await w.submit((tx) => pruneSpoolBatch(tx, this.stores, { after, maxId, quietBefore, batch: RETENTION_BATCH, ship }));
            if (!r.scanned) return null;
            after = r.cursor;
            return r;
          });
    // The lifetimes no trace cites, shipped: the prune by traces never reaches them.
    const flowLimits = await this.pruneUntraced(t0, now, total, { before, rowLimited, keep, sizeCut: size.flow }, (tx, o) => pruneSpoolUntraced(tx, this.stores, { ...o, ship }));
    // Upcalls and cross-checks, shipped: PostgreSQL's own round prunes its copy.
    await this.pruneRecords(t0, total, flowLimits.before, keep, (tx, records, o) => pruneSpoolRecords(tx, records, { ...o, ship }));
    // The ingest ledger, shipped: PostgreSQL's own round prunes its copy.
    await this.pruneLedger(t0, now, total, flowLimits.before, keep, (tx, ledger, o) => pruneSpoolLedger(tx, ledger, { ...o, ship }));
    return total;
  }

  /**
   * The lifetimes no trace cites, after the traces (never one ended within QUIET_MS: the path
   * recorder may still link a recirculation to it), one `prune` batch a writer job, added to
   * `total`; returns their limits (the upcalls and cross-checks go by the same time).
   */
  private async pruneUntraced(
    t0: number,
    now: number,
    total: RoundResult,
    o: Parameters<typeof untracedLimits>[2],
    prune: (tx: WriteContext, o: Parameters<DatapathFlowStore['pruneEndedUntraced']>[1]) => { cursor: UntracedCursor | null; deleted: number },
  ): Promise<UntracedLimits> {
    const w = this.store.writer;
    const limits = await w.submit((tx) => untracedLimits(tx, this.stores, o));
    if (limits.before === null && limits.maxId === null) return limits;
    const quietBefore = new Date(now - QUIET_MS).toISOString();
    let after: UntracedCursor | null = UNTRACED_START;
    const r = await this.batches(t0, async () => {
      if (after === null) return null;
      const from = after;
      const b = await w.submit((tx) => prune(tx, { after: from, ...limits, quietBefore, batch: RETENTION_BATCH * 10 }));
      after = b.cursor;
      return { traces: 0, paths: 0, datapathFlows: b.deleted };
    });
    total.datapathFlows += r.datapathFlows;
    total.seconds = r.seconds;
    return limits;
  }

  /** Upcalls and cross-checks over the limits (`before`, as many of each as traces are kept), one `prune` batch a writer job, added to `total`. */
  private async pruneRecords(
    t0: number,
    total: RoundResult,
    before: string | null,
    keep: number,
    prune: (tx: WriteContext, records: Records, o: { before: string | null; maxId: number | null; batch: number }) => number,
  ): Promise<void> {
    const w = this.store.writer;
    for (const records of this.stores.records ?? []) {
      const maxId = keep > 0 ? await w.submit((tx) => records.idBeyondNewest(tx, keep)) : null;
      if (before === null && maxId === null) continue;
      const r = await this.batches(t0, async () => {
        const n = await w.submit((tx) => prune(tx, records, { before, maxId, batch: RETENTION_BATCH * 10 }));
        return n ? { traces: 0, paths: 0, datapathFlows: 0, records: n } : null;
      });
      total.records = (total.records ?? 0) + (r.records ?? 0);
      total.seconds = r.seconds;
    }
  }

  /** The ingest ledger's entries over the limits, one `prune` batch a writer job, added to `total`. */
  private async pruneLedger(
    t0: number,
    now: number,
    total: RoundResult,
    before: string | null,
    keep: number,
    prune: (tx: WriteContext, ledger: IngestStore, o: Parameters<IngestStore['pruneOldest']>[1]) => { cursor: number | null; deleted: number },
  ): Promise<void> {
    const ledger = this.ingest;
    if (!ledger) return;
    const w = this.store.writer;
    const maxId = keep > 0 ? await w.submit((tx) => ledger.idBeyondNewest(tx, keep)) : null;
    const quietBefore = new Date(now - QUIET_MS).toISOString();
    let after: number | null = before === null && maxId === null ? null : -1;
    // Each open lifetime's first entry of each producer met this round (IngestStore.pruneOldest): kept.
    const firsts = new Set<string>();
    const r = await this.batches(t0, async () => {
      if (after === null) return null;
      const from = after;
      const b = await w.submit((tx) => prune(tx, ledger, { after: from, before, maxId, quietBefore, batch: RETENTION_BATCH * 10, firsts }));
      after = b.cursor;
      return { traces: 0, paths: 0, datapathFlows: 0, ingestEvents: b.deleted };
    });
    total.ingestEvents = (total.ingestEvents ?? 0) + (r.ingestEvents ?? 0);
    total.seconds = r.seconds;
  }

  /**
   * Runs `batch` (one writer job each; null: nothing left) until the round is done or the app stops,
   * yielding to the event loop between batches; counts what went, in the round's total and the
   * metrics. Both retentions (SQLite's, the spool's) loop here; `t0` is when their round began.
   */
  private async batches(t0: number, batch: () => Promise<PruneResult | null>): Promise<RoundResult> {
    const total: RoundResult = { traces: 0, paths: 0, datapathFlows: 0, batches: 0, seconds: 0 };
    while (!this.stopped) {
      const r = await batch();
      if (!r) break;
      addBatch(total, r);
      this.pruned.inc({ table: 'ingest_event' }, r.ingestEvents ?? 0);
      this.pruned.inc({ table: 'upcall_cross_check' }, r.records ?? 0);
      this.pruned.inc({ table: 'trace' }, r.traces);
      this.pruned.inc({ table: 'path' }, r.paths);
      this.pruned.inc({ table: 'datapath_flow' }, r.datapathFlows);
      await new Promise((res) => setImmediate(res));
    }
    total.seconds = (performance.now() - t0) / 1000;
    return total;
  }
}
