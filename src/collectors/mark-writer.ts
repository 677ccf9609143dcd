// Tells this chassis's mark (traced-mark.ts) to the store the API reads (paths/chassis-mark-store.ts):
// on a SQLite store shared by agents straight through the writer (its jobs commit in order, so after the passes it
// vouches for); with PostgreSQL through the shipper, once what the spool held when the mark was read
// has shipped (storage/ship-synced.ts): a row shipped as any other could reach PostgreSQL ahead of them.
import { type ChassisMark, tellCentralMark, writeMark } from '../paths';
import type { StoreService } from '../storage/store.service';
import type { TracedMark } from './traced-mark';

/** How often the mark is written to SQLite (the shipper's moments have their own pace). */
const EVERY_MS = 1_000;

export class MarkWriter {
  private timer: NodeJS.Timeout | undefined;
  private written: string | null = null;
  private writing = false;

  constructor(
    private readonly mark: TracedMark,
    private readonly store: Pick<StoreService, 'writer' | 'shipper'>,
    private readonly chassis: () => string,
  ) {}

  /**
   * `shared`: the SQLite store is written by agents (LIVETRACE_ROLE=agent) whose tunnels meet. A
   * one-chassis service (role all on SQLite) writes none: it links no hop (cross-chassis.ts skips a
   * far end its store knows nothing of), and an idle one keeps writing nothing.
   */
  start(shared: boolean): void {
    const shipper = this.store.shipper;
    if (shipper) {
      shipper.tellWhenShipped({
        take: (): ChassisMark | null => this.now(),
        tell: (m, send) => tellCentralMark(send, m as ChassisMark, new Date().toISOString()),
      });
      return;
    }
    if (!shared) return;
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
      await this.store.writer.submit((tx) => writeMark(tx, m, new Date().toISOString()));
      this.written = m.tracedThrough;
    } catch {
      // Only late: the next second writes a newer one.
    } finally {
      this.writing = false;
    }
  }
}
