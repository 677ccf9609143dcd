// Ingested datapath-flow lifetimes end even when their producer never says so: a ukey_created
// without its ukey_removed (a lost line, a producer killed or restarted) used to stay `live`
// forever. A lifetime no event touched for LIVETRACE_INGEST_IDLE_SECONDS (counted from when the
// agent heard the last, heard_at, its own clock: the producer's may be hours apart) is closed as
// `idle` (at its last_seen, the last moment it was known alive), and a producer that restarts can close
// all of its open lifetimes at once (POST /ingest/close-lifetimes?source=NAME).
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { DatapathFlowStore } from '../datapath-flows/datapath-flow-store';
import { StoreService } from '../storage/store.service';
import { IngestStore } from './ingest-store';

const BATCH = 1000;

@Injectable()
export class IngestLifetimesService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('IngestLifetimes');
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    private readonly store: StoreService,
    private readonly flows: DatapathFlowStore,
    private readonly ledger: IngestStore,
  ) {}

  onApplicationBootstrap(): void {
    const idle = this.config.LIVETRACE_INGEST_IDLE_SECONDS;
    if (!idle) return;
    // A quarter of the timeout, between 1 s and a minute: a lifetime outlives it by at most that.
    this.timer = setInterval(() => void this.sweep(), Math.min(60_000, Math.max(1000, (idle * 1000) / 4)));
    this.timer.unref();
    void this.sweep();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sweeping?.catch(() => undefined);
  }

  /** Closes the open ingested lifetimes idle since before now - timeout; returns how many. */
  sweep(now = Date.now()): Promise<number> {
    this.sweeping ??= this.closeIdle(new Date(now - this.config.LIVETRACE_INGEST_IDLE_SECONDS * 1000).toISOString(), new Date(now).toISOString()).finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async closeIdle(cutoff: string, now: string): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.store.writer.submit((tx) => this.flows.closeIdleIngested(tx, cutoff, BATCH, now));
      total += n;
      if (n < BATCH) break;
    }
    if (total) this.log.log(`closed ${total} ingested datapath flow lifetimes idle for over ${this.config.LIVETRACE_INGEST_IDLE_SECONDS} s`);
    return total;
  }

  /** Every open lifetime that events of this producer created or touched, closed now. */
  async closeSource(source: string, reason: string): Promise<number> {
    const at = new Date().toISOString();
    return this.store.writer.submit((tx) => this.flows.closeOpenIngested(tx, this.ledger.lifetimesOf(tx, source), at, reason));
  }
}
