// Tells this chassis's mark (traced-mark.ts) to the store the API reads (paths/chassis-mark-store.ts):
// on a SQLite store shared by agents straight through the writer (its jobs commit in order, so after the passes it
// vouches for); with PostgreSQL through the shipper, once what the spool held when the mark was read
// has shipped (storage/ship-synced.ts): a row shipped as any other could reach PostgreSQL ahead of them.
// A role-all process on SQLite writes it once the file is shared (another chassis told a mark: an
// agent writes there). Before, it wrote none, and every hop into its chassis stayed provisional for
// good; alone, nothing links into it, and it keeps writing nothing.
import { type ChassisMark, otherChassisMarked, tellCentralMark, writeMark } from '../paths';
import type { StoreService } from '../storage/store.service';
import type { TracedMark } from './traced-mark';

/** How often the mark is written to SQLite (the shipper's moments have their own pace). */
const EVERY_MS = 1_000;
/**
 * How often, at most, role all asks whether its file is shared: before, each second its mark
 * moved, for good when alone. The gap doubles from EVERY_MS up to this, so an agent that starts
 * beside a process just started is found within seconds, one beside a long-running one within a minute.
 */
const ASK_EVERY_MAX_MS = 60_000;

export class MarkWriter {
  private timer: NodeJS.Timeout | undefined;
  private written: string | null = null;
  private writing = false;
  /** The SQLite file is written by other chassis too: known for an agent, found for role all. */
  private shared = false;
  /** Role all, not shared yet: when it may ask again (ms, `clock`'s), and the gap after that. */
  private askAt = -Infinity;
  private askGap = EVERY_MS;

  constructor(
    private readonly mark: TracedMark,
    private readonly store: Pick<StoreService, 'writer' | 'shipper' | 'query'>,
    private readonly chassis: () => string,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * `agent`: the SQLite store is written by agents (LIVETRACE_ROLE=agent) whose tunnels meet.
   * Otherwise (role all) only once another chassis told its mark there: a one-chassis service links
   * no hop (cross-chassis.ts skips a far end its store knows nothing of), and an idle one writes nothing.
   */
  start(agent: boolean): void {
    const shipper = this.store.shipper;
    if (shipper) {
      shipper.tellWhenShipped({
        take: (): ChassisMark | null => this.now(),
        tell: (m, send) => tellCentralMark(send, m as ChassisMark, new Date().toISOString()),
      });
      return;
    }
    this.shared = agent;
    this.timer = setInterval(() => void this.write(), EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private now(): ChassisMark | null {
    const tracedThrough = this.mark.through();
    return tracedThrough === null ? null : { chassis: this.chassis(), tracedThrough };
  }

  private async write(): Promise<void> {
    const m = this.now();
    if (!m || m.tracedThrough === this.written || this.writing) return;
    this.writing = true;
    try {
      if (!this.shared && !(await this.askShared(m.chassis))) return;
      await this.store.writer.submit((tx) => writeMark(tx, m, new Date().toISOString()));
      this.written = m.tracedThrough;
    } catch {
      // Only late: the next second writes a newer one.
    } finally {
      this.writing = false;
    }
  }

  /** Whether another chassis told a mark in the file, asked no more often than askGap allows. */
  private async askShared(chassis: string): Promise<boolean> {
    const now = this.clock();
    if (now < this.askAt) return false;
    this.askAt = now + this.askGap;
    this.askGap = Math.min(this.askGap * 2, ASK_EVERY_MAX_MS);
    this.shared = await otherChassisMarked(this.store.query, chassis);
    return this.shared;
  }
}
