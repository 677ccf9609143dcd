// Sessions created with `crossCheck: true` get every completed path of theirs cross-checked
// against ovn-trace, once, a moment after its last pass arrived (more passes of the same packet
// may still be on their way).
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { PathUpdate, TracerService } from '../collectors/tracer.service';
import { TraceSessionsService } from '../trace-sessions/trace-sessions.service';
import { CrossChecksService } from './cross-checks.service';

const SETTLE_MS = 1000;

@Injectable()
export class AutoCrossCheckService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('AutoCrossCheck');
  private readonly pending = new Map<number, NodeJS.Timeout>();
  private readonly done = new Set<number>();
  private chain: Promise<unknown> = Promise.resolve();

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
    const wants = u.sessionIds.some((id) => this.sessions.active.get(id)?.json.crossCheck);
    if (!wants) return;
    clearTimeout(this.pending.get(u.pathId));
    this.pending.set(
      u.pathId,
      setTimeout(() => {
        this.pending.delete(u.pathId);
        this.done.add(u.pathId);
        // One ovn-trace at a time: it reads the whole southbound database.
        this.chain = this.chain.then(() =>
          this.crossChecks.crossCheck(u.traceId).then(
            (r) => this.log.log(`path ${u.pathId}: ${r.result}`),
            (err: Error) => this.log.warn(`path ${u.pathId}: cross-check failed: ${err.message}`),
          ),
        );
      }, SETTLE_MS),
    );
  }
}
