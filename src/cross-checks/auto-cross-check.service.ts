// Sessions created with `crossCheck: true` get every completed path of theirs cross-checked
// against ovn-trace, once, a moment after its last pass arrived (more passes of the same packet
// may still be on their way).
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { PathUpdate, TracerService } from '../collectors/tracer.service';
import { ActiveSession, TraceSessionsService } from '../trace-sessions/trace-sessions.service';
import { CrossChecksService } from './cross-checks.service';

const SETTLE_MS = 1000;
/**
 * Paths waiting for their ovn-trace at most: one runs at a time (seconds each on a big southbound)
 * while a busy session completes many paths a second; beyond this, new ones are not checked.
 */
const MAX_QUEUED = 100;
/** Paths remembered as checked (so a late pass does not check one again): the newest ones. */
const MAX_DONE = 10_000;

@Injectable()
export class AutoCrossCheckService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('AutoCrossCheck');
  private readonly pending = new Map<number, NodeJS.Timeout>();
  private readonly done = new Set<number>();
  private chain: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private skipped = 0;

  constructor(
    private readonly tracer: TracerService,
    private readonly sessions: TraceSessionsService,
    private readonly crossChecks: CrossChecksService,
  ) {}

  onApplicationBootstrap(): void {
    this.tracer.on('pathUpdated', (u) => this.onPath(u));
  }

  onApplicationShutdown(): void {
    for (const t of this.pending.values()) clearTimeout(t);
  }

  private onPath(u: PathUpdate): void {
    if (!u.complete || this.done.has(u.pathId)) return;
    const asking = u.sessionIds.map((id) => this.sessions.active.get(id)).filter((s): s is ActiveSession => !!s?.json.crossCheck);
    if (!asking.length) return;
    // Asked again later: a session still carried out here, or one that ended by reaching its
    // maxTraces (its last paths are within it); one stopped, expired or ended elsewhere is not.
    const wanted = () => asking.some((s) => this.sessions.active.get(s.json.id) === s || s.json.state === 'completed');
    clearTimeout(this.pending.get(u.pathId));
    this.pending.set(
      u.pathId,
      setTimeout(() => {
        this.pending.delete(u.pathId);
        if (!wanted()) return;
        if (this.queued >= MAX_QUEUED) {
          if (this.skipped++ % 1000 === 0) this.log.warn(`${this.queued} paths wait for ovn-trace: path ${u.pathId} and later ones not cross-checked (${this.skipped} so far)`);
          return;
        }
        this.done.add(u.pathId);
        if (this.done.size > MAX_DONE) this.done.delete(this.done.values().next().value!);
        this.queued++;
        // One ovn-trace at a time: it reads the whole southbound database. The session is asked
        // again when its turn comes: one stopped while its paths waited has them no more.
        this.chain = this.chain.then(() => {
          this.queued--;
          if (!wanted()) return;
          return this.crossChecks.crossCheck(u.traceId).then(
            (r) => this.log.log(`path ${u.pathId}: ${r.result}`),
            (err: Error) => this.log.warn(`path ${u.pathId}: cross-check failed: ${err.message}`),
          );
        });
      }, SETTLE_MS),
    );
  }
}
