// The tracer's queue: bounded, drained one job at a time under a token bucket that protects
// ovs-vswitchd's main thread (LIVETRACE_TRACE_RATE per second). On-demand traces take their turn
// from the same bucket. A job may be put back later (a detrace cache not built yet) without
// holding up the jobs behind it.
import { TokenBucket } from '../common/token-bucket';

export class TraceQueue<J> {
  private readonly jobs: J[] = [];
  private readonly bucket: TokenBucket;
  private working = false;
  private stopped = false;
  private wake: NodeJS.Timeout | undefined;
  private wakeUp: (() => void) | undefined;
  /** The drain under way (the job running now), for stop() to wait for. */
  private draining: Promise<void> = Promise.resolve();

  constructor(
    private readonly capacity: number,
    rate: number,
    /** Runs one job. It never rejects: the owner counts its own failures (TracerService.run). */
    private readonly run: (job: J) => Promise<void>,
    private readonly onDepth: (depth: number) => void = () => {},
    /**
     * A job no longer wanted (its sessions ended, or full): dropped at the queue's head before it
     * takes a token (the owner counts it). A session with a small maxTraces and includeExisting over
     * thousands of installed flows left thousands of such jobs, each spending a token of vswitchd's
     * rate while the other sessions' flows waited behind them.
     */
    private readonly unwanted: (job: J) => boolean = () => false,
  ) {
    this.bucket = new TokenBucket(rate);
  }

  get depth(): number {
    return this.jobs.length;
  }

  /** False when the queue is full (the job is not taken). */
  push(job: J): boolean {
    if (this.jobs.length >= this.capacity) return false;
    this.jobs.push(job);
    this.onDepth(this.jobs.length);
    this.kick();
    return true;
  }

  /** Puts the job back at the end after `ms`, past the capacity check (it was taken already). */
  pushLater(job: J, ms: number): void {
    setTimeout(() => {
      if (this.stopped) return;
      this.jobs.push(job);
      this.onDepth(this.jobs.length);
      this.kick();
    }, ms).unref();
  }

  /** Waits for a token of the bucket (an on-demand trace outside the queue). */
  async turn(): Promise<void> {
    const wait = this.bucket.take();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  /** Takes no more jobs; resolves once the job running now, if any, has finished. */
  stop(): Promise<void> {
    this.stopped = true;
    if (this.wake) clearTimeout(this.wake);
    this.wakeUp?.();
    return this.draining;
  }

  private kick(): void {
    if (this.working || this.stopped) return;
    this.working = true;
    this.draining = this.drain().finally(() => (this.working = false));
  }

  private async drain(): Promise<void> {
    while (this.jobs.length && !this.stopped) {
      if (this.unwanted(this.jobs[0])) {
        this.jobs.shift();
        this.onDepth(this.jobs.length);
        continue;
      }
      const wait = this.bucket.take();
      if (wait > 0) {
        await new Promise<void>((r) => {
          this.wakeUp = r;
          this.wake = setTimeout(r, wait);
        });
        continue;
      }
      const job = this.jobs.shift()!;
      this.onDepth(this.jobs.length);
      await this.run(job);
    }
  }
}
