// Turns new datapath flows into annotated, stored traces: picks the flows active sessions want,
// queues them (trace-queue.ts: bounded, rate-limited), has them traced (flow-tracer.ts: the
// vswitchd calls and the method) and recorded into their packet's path (paths/path-recorder.ts).
// Every flow skipped, dropped or failed is counted (tracer-metrics.ts), never silent.
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { AnnotatedTrace } from '../correlation/types';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { PathRecorder } from '../paths';
import { ActiveSession, Decision, SessionPick, TraceSessionsService } from '../trace-sessions/trace-sessions.service';
import { decidedFor } from '../trace-sessions';
import { DatapathPorts } from './datapath-ports';
import { FlowEvent, LiveFlow } from './datapath-diff';
import { FlowTracer } from './flow-tracer';
import { parentsFirst } from './parents-first';
import { PollerService } from './poller.service';
import { TraceQueue } from './trace-queue';
import { MarkWriter } from './mark-writer';
import { TracedMark, type MarkHold } from './traced-mark';
import { TracerMetrics } from './tracer-metrics';
import { StoreService } from '../storage/store.service';

/**
 * LIVETRACE_TRACE_METHOD=detrace: when the ukey has no translation cache yet, ask again after these
 * delays (ms) before tracing the key; the flow waits aside, the queue goes on. A cache appears only
 * after the flow carried more packets and a revalidation round followed: measured, continuing
 * flows had one 0.5 s after first sight in 42-100 % of cases (runs differ) and after 1 s in all, one-packet flows
 * never (bench/live/RESULTS-methods.md). One retry at 1 s gets the former; more only delay the latter.
 */
const DETRACE_RETRY_MS = [1000];
const MAX_STORES_IN_FLIGHT = 256;

interface Job {
  flow: LiveFlow;
  /** `decision`: a pass to decide tells its recirculations' jobs what its trace said (they hold it as `parents`). */
  sessions: Array<SessionPick & { decision?: Decision }>;
  enqueuedAt: number;
  /** Earlier ofproto/detrace attempts that found no cache (LIVETRACE_TRACE_METHOD=detrace). */
  detraceTries?: number;
  /** Put aside once already behind a first pass to decide that was itself put aside (traceJob). */
  waitedForParents?: boolean;
  /** Holds this chassis's mark below the flow until its pass is stored or given up (traced-mark.ts). */
  hold: MarkHold;
}

export interface TraceOutcome {
  traceId?: number;
  trace?: AnnotatedTrace;
  consistent: boolean | null;
  reason?: string;
}

export interface PathUpdate {
  pathId: number;
  traceId: number;
  sessionIds: number[];
  /** Every recirculation the passes queued has its pass, and the packet's fate is known. */
  complete: boolean;
}

@Injectable()
export class TracerService extends EventEmitter<{ pathUpdated: [PathUpdate] }> implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly log = new Logger('Tracer');
  private readonly queue: TraceQueue<Job>;
  private readonly inflight = new Set<Promise<void>>();
  /**
   * Passes on their way to the store, per session: the next trace does not wait for a commit, so
   * a session's maxTraces counts these with what it stored (else every pass traced while the
   * first maxTraces were in flight was stored too).
   */
  private readonly storing = new Map<ActiveSession, number>();
  /** How far this chassis's traces are stored (chassis_mark), told by mark-writer.ts. */
  readonly mark: TracedMark;
  private readonly markWriter: MarkWriter;

  constructor(
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    private readonly poller: PollerService,
    private readonly sessions: TraceSessionsService,
    private readonly flowTracer: FlowTracer,
    private readonly paths: PathRecorder,
    private readonly ports: DatapathPorts,
    private readonly metrics: TracerMetrics,
    private readonly store: StoreService,
  ) {
    super();
    this.mark = new TracedMark(() => sessions.taken, { polling: config.LIVETRACE_POLLER });
    this.markWriter = new MarkWriter(this.mark, store, () => poller.chassis);
    this.queue = new TraceQueue<Job>(
      config.LIVETRACE_TRACE_QUEUE,
      config.LIVETRACE_TRACE_RATE,
      (job) => this.run(job),
      (n) => metrics.queueDepth(n),
      (job) => this.unwanted(job),
    );
  }

  /** Lifetimes first seen from here on are this run's own (earlier ones were continued from the store). */
  private readonly startedAt = new Date().toISOString();

  onApplicationBootstrap(): void {
    this.poller.on('cycle', (events) => this.onCycle(events));
    // An api instance has no chassis (its poller is off by role). Role all vouches for what it
    // traces as an agent does; its ingests are dated by their producers, no mark's (traced-mark.ts).
    if (this.config.LIVETRACE_ROLE !== 'api') this.markWriter.start(this.config.LIVETRACE_ROLE === 'agent');
    this.sessions.on('created', (s) => {
      if (s.json.includeExisting) void this.includeExisting(s);
    });
    // Sessions reloaded after a restart: the flows this run created before the reload (the reload
    // waits for the local OVS database to name the chassis) would otherwise never be looked at.
    this.sessions.on('reloaded', (s) => {
      for (const f of this.parentsFirst(this.poller.liveFlows().filter((f) => f.firstSeen >= this.startedAt))) this.consider(f, s);
    });
  }

  /**
   * Before the sessions' last counter write (their module, which this one imports, shuts down
   * after it): the job running and the stores in flight finish, so each trace they store is counted.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.queue.stop();
    await Promise.allSettled([...this.inflight]);
  }

  onApplicationShutdown(): void {
    this.markWriter.stop();
    void this.queue.stop();
  }

  private queueFull = 0;

  /**
   * Selected flows not taken since start, by cause (/health): the queue full is this process
   * tracing too slowly, the spool full is PostgreSQL away or too slow (the shipper keeps that count:
   * ShipperState.dropped).
   */
  get dropped(): { queueFull: number; spoolFull: number } {
    return { queueFull: this.queueFull, spoolFull: this.store.shipper?.state.dropped ?? 0 };
  }

  get queueDepth(): number {
    return this.queue.depth;
  }

  private onCycle(events: FlowEvent[]): void {
    // Parents before their recirculations, so a session that selects a packet's first pass
    // selects the others with it.
    const created: LiveFlow[] = [];
    for (const e of events) {
      if (e.type === 'ukey_removed' && e.flow.dbId !== undefined) {
        this.paths.forgetLater(e.flow.dbId);
        // A removed flow recirculates into no new flow: the sessions forget they selected it
        // (else a long session's memory grows with every flow it ever saw).
        for (const s of this.sessions.active.values()) {
          s.selectedFlows.delete(e.flow.dbId);
          s.decidingFlows.delete(e.flow.dbId);
        }
      }
      if (e.type === 'ukey_created') created.push(e.flow);
    }
    for (const f of this.parentsFirst(created)) this.consider(f);
    if (this.poller.lastCycle) this.mark.dumped(this.poller.lastCycle.at);
  }

  private parentsFirst(flows: readonly LiveFlow[]): LiveFlow[] {
    return parentsFirst(flows, (f) => this.poller.table.parentsOf(f));
  }

  private consider(flow: LiveFlow, only?: ActiveSession): void {
    if (!this.sessions.active.size) return;
    const parents = this.poller.table.parentsOf(flow);
    let selected = this.sessions.select(flow, parents, this.ports.names());
    if (only) selected = selected.filter((p) => p.session === only);
    if (!selected.length) return;
    const picked: Job['sessions'] = selected.map((p) => (p.how === 'decide' ? { ...p, decision: {} } : p));
    for (const p of picked) {
      this.sessions.count(p.session, 'selected');
      // A pass to decide heads its recirculations only once its trace says it is the port's (run).
      if (flow.dbId === undefined) continue;
      if (p.decision) p.session.decidingFlows.set(flow.dbId, p.decision);
      else p.session.selectedFlows.add(flow.dbId);
    }
    // With PostgreSQL away long enough the spool is full: the bound drops new traces, counted once,
    // in the shipper's state (/health and /metrics read it there).
    const shipper = this.store.shipper;
    if (shipper?.state.full) {
      shipper.state.dropped++;
      for (const p of picked) this.sessions.drop(p.session, 'spool_full');
      this.decided(picked, flow);
      return;
    }
    // Every selected flow, an includeExisting's too (first seen before its session, maybe before
    // the mark told): until stored it keeps the mark from passing it (traced-mark.ts).
    const hold = this.mark.hold(flow.firstSeen);
    if (!this.queue.push({ flow, sessions: picked, enqueuedAt: Date.now(), hold })) {
      this.mark.release(hold);
      this.queueFull++;
      this.metrics.count('dropped_queue_full');
      for (const p of picked) this.sessions.drop(p.session, 'queue_full');
      this.decided(picked, flow);
    }
  }

  private async includeExisting(s: ActiveSession): Promise<void> {
    // The previous run's open lifetimes are installed flows too: in the table once the poller has
    // picked them up (before its first dump, once the chassis is named); a session taken up first waits.
    await this.poller.whenSeeded();
    // Parents first, so their recirculations are selected with them.
    const flows = this.parentsFirst(this.poller.liveFlows());
    for (let i = 0; i < flows.length; i++) {
      this.consider(flows[i], s);
      // Tens of thousands of installed flows: let the API and the poller breathe.
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * Whether the session may store one more pass: not past its expiry (the housekeeping that ends it
   * may come a second or more later), and maxTraces counts what is stored, here and elsewhere, and
   * what is on its way.
   */
  private hasRoom(s: ActiveSession): boolean {
    if (s.json.expiresAt !== null && s.json.expiresAt <= new Date().toISOString()) return false;
    const max = s.json.maxTraces;
    return !max || s.local.stored + s.storedElsewhere + (this.storing.get(s) ?? 0) < max;
  }

  /**
   * Why session `s` can take no more passes (SessionStats.skipped), null when it can: the reason it
   * ended (completed is maxTraces reached), or, before the housekeeping ends it, what hasRoom found.
   */
  private noRoom(s: ActiveSession): string | null {
    const state = s.json.state;
    if (state === 'active') {
      if (this.hasRoom(s)) return null;
      return s.json.expiresAt !== null && s.json.expiresAt <= new Date().toISOString() ? 'expired' : 'max_traces';
    }
    return state === 'completed' ? 'max_traces' : state;
  }

  /** The job's sessions that may still store a pass; each other one counts the job as skipped, with its reason. */
  private takers(sessions: Job['sessions']): Job['sessions'] {
    return sessions.filter((p) => {
      const why = this.noRoom(p.session);
      if (why) this.sessions.skip(p.session, why);
      return !why;
    });
  }

  /** No session of the job may store a pass any more: dropped from the queue without a token, counted. */
  private unwanted(job: Job): boolean {
    if (job.sessions.some((s) => s.session.json.state === 'active' && this.hasRoom(s.session))) return false;
    this.takers(job.sessions);
    this.decided(job.sessions, job.flow);
    this.metrics.count('skipped_session_ended');
    this.mark.release(job.hold);
    return true;
  }

  private async run(job: Job): Promise<void> {
    const live = this.takers(job.sessions);
    if (!live.length) {
      this.metrics.count('skipped_session_ended');
      this.mark.release(job.hold);
      this.decided(job.sessions, job.flow);
      return;
    }
    // The hold goes with the job put back for a detrace retry, or with the store in flight.
    let next: 'aside' | 'storing' | 'done' = 'done';
    try {
      next = await this.traceJob({ ...job, sessions: live });
    } catch (err) {
      this.log.warn(`trace of ${job.flow.ufid} failed: ${(err as Error).message}`);
      this.metrics.count('failed_error');
      for (const s of live) this.sessions.fail(s.session, 'error');
    } finally {
      if (next === 'done') this.mark.release(job.hold);
      // Put aside, the pass is still to decide for the sessions it went aside with; else decided now.
      this.decided(next === 'aside' ? job.sessions.filter((s) => !live.includes(s)) : job.sessions, job.flow);
    }
  }

  /**
   * A job's passes to decide are decided: not the port's unless its trace said so (failed, skipped,
   * dropped as unwanted), and no longer among their sessions' deciding flows, whatever their lifetime does.
   */
  private decided(sessions: Job['sessions'], flow: LiveFlow): void {
    for (const s of sessions) {
      if (!s.decision) continue;
      s.decision.kept ??= false;
      if (flow.dbId !== undefined && s.session.decidingFlows.get(flow.dbId) === s.decision) s.session.decidingFlows.delete(flow.dbId);
    }
  }

  /** Whether the job lives on: put aside (a detrace retry), or stored in flight (which releases its hold), or done. */
  private async traceJob(job: Job): Promise<'aside' | 'storing' | 'done'> {
    const { flow } = job;
    // Its first pass, to decide, was put aside for a detrace retry: this recirculation goes aside as
    // long, behind it, so the queue decides the parent first again (once: the parent retries once).
    if (!job.waitedForParents && job.sessions.some((s) => s.parents?.some((d) => d.kept === undefined) && !s.parents.some((d) => d.kept))) {
      this.queue.pushLater({ ...job, waitedForParents: true }, DETRACE_RETRY_MS[DETRACE_RETRY_MS.length - 1]);
      return 'aside';
    }
    const tries = job.detraceTries ?? 0;
    const mayWait = this.config.LIVETRACE_TRACE_METHOD === 'detrace' && tries < DETRACE_RETRY_MS.length;
    const result = await this.flowTracer.traceFlow(flow, { waitForCache: mayWait, detraceTries: tries });
    if (result.kind === 'cache_pending') {
      // Aside, not in the queue: the flows behind it are not held up while its cache is built.
      this.metrics.count('detrace_cache_wait');
      this.queue.pushLater({ ...job, detraceTries: tries + 1 }, DETRACE_RETRY_MS[tries]);
      return 'aside';
    }
    if (result.kind === 'failed') {
      this.metrics.count(`failed_${result.reason}`);
      for (const s of job.sessions) this.sessions.fail(s.session, result.reason);
      return 'done';
    }
    // A recirculation selected with a first pass to decide is the port's when that pass was kept
    // (traced before it: the queue runs in order, parents first), or when it is itself.
    const about = job.sessions.filter(
      (s) => s.how === 'store' || (s.session.port !== undefined && decidedFor(result.trace, s.session.port)) || !!s.parents?.some((d) => d.kept),
    );
    for (const s of job.sessions) if (s.decision) s.decision.kept = about.includes(s);
    // Room is looked at again: stores may have been started, or the session expired, while this
    // pass was traced. A session with none left skips it, by reason, as if its turn came now: counted
    // traced, the pass would be neither stored, nor notSelected, nor failed.
    const wanted = about.filter((s) => this.hasRoom(s.session));
    for (const s of job.sessions) {
      if (about.includes(s) && !wanted.includes(s)) {
        this.sessions.skip(s.session, this.noRoom(s.session) ?? 'max_traces');
        continue;
      }
      this.sessions.count(s.session, 'traced');
      if (!about.includes(s)) this.sessions.count(s.session, 'notSelected');
    }
    if (!wanted.length) {
      this.metrics.count(about.length ? 'skipped_session_ended' : 'not_selected');
      return 'done';
    }
    const settle = () => {
      for (const s of wanted) {
        const n = (this.storing.get(s.session) ?? 1) - 1;
        if (n > 0) this.storing.set(s.session, n);
        else this.storing.delete(s.session);
      }
    };
    for (const s of wanted) this.storing.set(s.session, (this.storing.get(s.session) ?? 0) + 1);
    // Taken at its selection (consider); again here only while installed (a lifetime stored after its
    // selection, the spool full then): a flow removed while its trace waited would be kept for good.
    for (const s of wanted) if (flow.dbId !== undefined && this.poller.table.live.get(flow.ufid) === flow) s.session.selectedFlows.add(flow.dbId);
    // The next ofproto/trace does not wait for this commit: the writer batches many traces per
    // transaction. Stores stay in order (one writer queue), and their number in flight is bounded.
    const sessionIds = wanted.map((w) => w.session.json.id);
    const stored = this.record(flow, result, sessionIds).then(
      () => {
        settle();
        for (const s of wanted) this.sessions.count(s.session, 'stored');
        this.metrics.stored(job.enqueuedAt);
      },
      (err: Error) => {
        settle();
        this.log.warn(`storing the trace of ${flow.ufid} failed: ${err.message}`);
        this.metrics.count('failed_store');
        for (const s of wanted) this.sessions.fail(s.session, 'store');
      },
    );
    this.inflight.add(stored);
    void stored.finally(() => (this.inflight.delete(stored), this.mark.release(job.hold)));
    if (this.inflight.size >= MAX_STORES_IN_FLIGHT) await Promise.race(this.inflight);
    return 'storing';
  }

  /** Stores the pass into its packet's path (the recirculation edges of the poller's index) and says so. */
  private async record(
    flow: LiveFlow,
    r: { trace: AnnotatedTrace; consistent: boolean | null; reason?: string; methodReason: string },
    sessionIds: number[],
  ): Promise<number> {
    const ids = (flows: LiveFlow[]) => flows.map((f) => f.dbId).filter((id): id is number => id !== undefined);
    const { traceId, pathId, complete } = await this.paths.record({
      flow,
      parents: ids(this.poller.table.parentsOf(flow)),
      children: ids(this.poller.table.childrenOf(flow)),
      trace: r.trace,
      chassis: this.poller.chassis,
      consistent: r.consistent,
      reason: r.reason,
      sessionIds,
      methodReason: r.methodReason,
    });
    if (complete !== null) this.emit('pathUpdated', { pathId, traceId, sessionIds, complete });
    return traceId;
  }

  /** On demand: trace one installed flow now (still rate-limited) and store it. */
  async traceNow(flow: LiveFlow): Promise<TraceOutcome> {
    // Its pass is a link's candidate as a selected flow's is: it holds the mark until stored.
    const hold = this.mark.hold(flow.firstSeen);
    try {
      await this.queue.turn();
      const r = await this.flowTracer.traceFlow(flow);
      if (r.kind !== 'ok') {
        this.metrics.count(`failed_${r.kind === 'failed' ? r.reason : 'cache_pending'}`);
        return { consistent: null, reason: r.message };
      }
      const traceId = await this.record(flow, r, []);
      this.metrics.count('stored');
      return { traceId, trace: r.trace, consistent: r.consistent, reason: r.reason };
    } finally {
      this.mark.release(hold);
    }
  }
}
