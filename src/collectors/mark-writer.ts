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

export class MarkWriter {
  private timer: NodeJS.Timeout | undefined;
  private written: string | null = null;
  private writing = false;
  /** The SQLite file is written by other chassis too: known for an agent, found for role all. */
  private shared = false;

  constructor(
    private readonly mark: TracedMark,
    private readonly store: Pick<StoreService, 'writer' | 'shipper' | 'query'>,
    private readonly chassis: () => string,
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
      this.shared ||= await otherChassisMarked(this.store.query, m.chassis);
      if (!this.shared) return;
      await this.store.writer.submit((tx) => writeMark(tx, m, new Date().toISOString()));
      this.written = m.tracedThrough;
    } catch {
      // Only late: the next second writes a newer one.
    } finally {
      this.writing = false;
    }
  }
}
