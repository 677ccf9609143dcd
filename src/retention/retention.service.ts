// Runs retention (retention.ts) every minute: one round computes the limits, then prunes batch
// after batch, each its own writer job awaited before the next, so live writes queue between
// batches and the event loop turns between them.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Counter } from 'prom-client';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { MetricsService } from '../metrics/metrics.service';
import { DatapathFlowStore } from '../datapath-flows/datapath-flow-store';
import { PathStore } from '../paths/path-store';
import { StoreService } from '../storage/store.service';
import { TraceStore } from '../traces/trace-store';
import { cutoffOf, pruneBatch, PruneResult, RetentionLimits, RetentionStores, rowLimitCut } from './retention';

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
  private stopped = false;
  private readonly pruned: Counter;
  private readonly stores: RetentionStores;

  constructor(
    private readonly store: StoreService,
    traces: TraceStore,
    paths: PathStore,
    flows: DatapathFlowStore,
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    metrics: MetricsService,
  ) {
    this.stores = { traces, paths, flows };
    this.pruned = new Counter({ name: 'livetrace_retention_pruned_total', help: 'Rows pruned by retention', labelNames: ['table'], registers: [metrics.registry] });
  }

  get enabled(): boolean {
    return this.config.LIVETRACE_RETENTION_DAYS > 0 || this.config.LIVETRACE_RETENTION_ROWS > 0;
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    this.timer = setInterval(() => void this.round().catch((e: Error) => this.log.warn(`retention round failed: ${e.message}`)), ROUND_EVERY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One round: prune until nothing is over the limits (or the app stops). One at a time. */
  round(now = Date.now()): Promise<RoundResult> {
    this.running ??= this.prune(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async prune(now: number): Promise<RoundResult> {
    const t0 = performance.now();
    const w = this.store.writer;
    const keep = this.config.LIVETRACE_RETENTION_ROWS;
    const limits: RetentionLimits = {
      before: cutoffOf(now, this.config.LIVETRACE_RETENTION_DAYS),
      maxPrunedId: keep > 0 ? await w.submit((tx) => rowLimitCut(tx, this.stores, keep)) : null,
    };
    const total: RoundResult = { traces: 0, paths: 0, datapathFlows: 0, batches: 0, seconds: 0 };
    while (!this.stopped) {
      const r = await w.submit((tx) => pruneBatch(tx, this.stores, limits, RETENTION_BATCH));
      if (!r.traces) break;
      total.batches++;
      total.traces += r.traces;
      total.paths += r.paths;
      total.datapathFlows += r.datapathFlows;
      this.pruned.inc({ table: 'trace' }, r.traces);
      this.pruned.inc({ table: 'path' }, r.paths);
      this.pruned.inc({ table: 'datapath_flow' }, r.datapathFlows);
      await new Promise((res) => setImmediate(res));
    }
    total.seconds = (performance.now() - t0) / 1000;
    if (total.traces) this.log.log(`pruned ${total.traces} traces, ${total.paths} paths, ${total.datapathFlows} datapath flows in ${total.seconds.toFixed(1)} s`);
    return total;
  }
}
