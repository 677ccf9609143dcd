// Trace sessions: what live traffic to trace, for how long, how much. Stored in the database, the
// request every agent carries out (issue 19): each agent polls the table for sessions created or
// ended since (LIVETRACE_ROLE=api creates and stops them, runs none), keeps the active ones for
// its chassis in memory for the hot path (every new datapath flow is checked against them) and
// writes its own counters row.
import { Inject, Injectable, Optional, Logger, BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { compileFilter, CompiledFilter } from '../ovs/of-filter';
import { notFound } from '../common/api-error';
import { Page, page } from '../common/query';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { ReplicasService } from '../replicas/replicas.service';
import { StoreService } from '../storage/store.service';
import { PathStore } from '../paths/path-store';
import { TracesService } from '../traces/traces.service';
import { emptyStats, SessionStats, TraceSessionJson, TraceSessionStore } from './trace-session-store';
import { checkSessionLimit, createWithinLimit } from './session-limit';
import { PortTarget, selectFlow, Selection, SessionFlow } from './session-selector';
import { portTarget, ReachWalks } from './port-target';
import { checkRequest, CreateSessionInput, newSessionRow } from './session-request';
import { SessionEnds } from './session-ends';
import { LocalCounters } from './local-counters';

export interface ActiveSession {
  json: TraceSessionJson;
  filter?: CompiledFilter;
  port?: PortTarget;
  /** What `port` was computed from: the OVN model's topology generation and the dpif/show port names. */
  portFrom?: { generation: number; portNames?: ReadonlyMap<string, string> };
  /** Datapath flow lifetimes (dbId) selected for this session, so their recirculations are too. */
  selectedFlows: Set<number>;
  /**
   * Lifetimes selected to decide (by the port's address) whose trace has not said yet whether they
   * are the port's: their recirculations are decided with them, not stored whatever they are.
   */
  decidingFlows: Map<number, Decision>;
  /** This chassis's counters (json.stats is every chassis's total, as last read). */
  local: SessionStats;
  /**
   * The name `local` was read under and is written under, fixed at take-up: a name that changed
   * later (the local OVS database naming the chassis) would copy the counts into a second row.
   */
  chassis: string;
  /** What the other chassis had stored at the last poll, for maxTraces across chassis. */
  storedElsewhere: number;
}

/**
 * What the trace of a pass selected to decide said: the port's (kept) or not; unset while it waits.
 * Its recirculations' jobs hold it (TraceSessionsService.select), so the verdict reaches them however
 * its lifetime ends meanwhile (idled out, its trace failed).
 */
export interface Decision {
  kept?: boolean;
}

/** A session's selection of a flow; `parents`, for a recirculation decided with its first pass, that pass's decision. */
export interface SessionPick {
  session: ActiveSession;
  how: Exclude<Selection, null>;
  parents?: readonly Decision[];
}

/** maxTraces stored by every chassis together, the others' as of the last poll. */
const reached = (s: ActiveSession): boolean => !!s.json.maxTraces && s.local.stored + s.storedElsewhere >= s.json.maxTraces;

@Injectable()
export class TraceSessionsService extends EventEmitter<{ created: [ActiveSession]; reloaded: [ActiveSession] }> implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('TraceSessions');
  readonly active = new Map<number, ActiveSession>();
  private timer: NodeJS.Timeout | undefined;
  /** When this run began: a session older than it may have been taken up by an earlier run. */
  private readonly startedAt = new Date().toISOString();
  /** This chassis's counters, written to its own row of each session (local-counters.ts). */
  private readonly counters: LocalCounters;
  private polled = false;
  /** The poll under way: polls run one after the other (each compares the store with `active`). */
  private polling: Promise<void> = Promise.resolve();
  /**
   * Sessions this process ended: a poll whose read began before the end was committed still sees
   * them active, and must not take them up again (nor announce them as new).
   */
  private readonly endedHere = new Set<number>();
  /** The sessions' route walks, walked again only when the routing rows change (not at every VM port). */
  private readonly walks = new ReachWalks(() => this.replicas.model.routingGeneration);
  /** Ends decided here, written (again, after a failed write) with their last counters. */
  private readonly ends: SessionEnds;

  constructor(
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    private readonly store: StoreService,
    private readonly sessions: TraceSessionStore,
    private readonly replicas: ReplicasService,
    // By its class: a Pick<> type is emitted as Object, a token nothing provides, so @Optional gave
    // undefined and every chassis known only by what its agent stored was warned of (or refused).
    @Optional() @Inject(PathStore) private readonly paths?: Pick<PathStore, 'hasChassis' | 'markOf'>,
    @Optional() traces?: TracesService,
  ) {
    super();
    this.ends = new SessionEnds(store.writer, sessions);
    this.counters = new LocalCounters(store.writer, sessions);
    // GET /traces?session= tells a session that never was from one with no trace yet.
    traces?.useSessions(async (id) => (await sessions.endOf(id)) !== undefined);
  }

  async onApplicationBootstrap(): Promise<void> {
    // An api instance carries out no session (the agents do, and write their counters): it
    // creates, stops and reads them in the store.
    if (this.config.LIVETRACE_ROLE === 'api') return;
    // The sessions that survived a restart are in `active` before the collectors start. A central
    // database that does not answer yet must not keep the agent from starting (it spools): the
    // poll each second takes them up once it answers.
    await this.poll().catch((err: Error) => this.log.warn(`sessions: ${err.message}; taken up at a later poll`));
    this.timer = setInterval(() => void this.housekeeping().catch((err: Error) => this.log.warn(`sessions: ${err.message}`)), 1000);
    this.timer.unref();
  }

  private get chassis(): string {
    return this.replicas.chassisName() ?? hostname();
  }

  /**
   * Takes up the sessions created since (by an api instance or another agent) for this chassis,
   * and lets go of those ended elsewhere. The active sessions are few (LIVETRACE_MAX_SESSIONS):
   * reading them all each second is cheaper than keeping a cursor right across agents.
   */
  private poll(): Promise<void> {
    const next = this.polling.then(() => this.pollOnce());
    this.polling = next.catch(() => undefined);
    return next;
  }

  private async pollOnce(): Promise<void> {
    // Until the local OVS database says which chassis this is, a session narrowed to some chassis
    // cannot be placed, and counters would go under the wrong name.
    if (this.replicas.chassisName() === undefined && !this.replicas.status('ovs').synced) return;
    const rows = await this.sessions.active();
    const live = new Set(rows.map((r) => r.id));
    const endedElsewhere = [...this.active.values()].filter((s) => !live.has(s.json.id));
    // Their stored end, for whoever still holds them: paths of a session completed on another agent
    // (maxTraces reached there) are still within it (auto-cross-check.service.ts). Read while they are
    // still in the active map: one let go first read neither active nor completed until its end came.
    for (const s of endedElsewhere) Object.assign(s.json, await this.sessions.endOf(s.json.id).catch(() => undefined));
    for (const s of endedElsewhere) this.active.delete(s.json.id);
    for (const id of [...this.endedHere]) if (!live.has(id)) this.endedHere.delete(id);
    const me = this.chassis;
    const takenUp: Array<{ session: ActiveSession; hasRow: boolean; reload: boolean }> = [];
    const ends: Array<{ id: number; state: 'expired' | 'completed' }> = [];
    // maxTraces reached by the chassis together, each having counted the others' as of its last
    // poll when it stored its own: no agent has room any more, so the poll that sees the sum ends it.
    const full: ActiveSession[] = [];
    for (const json of rows) {
      const held = this.active.get(json.id);
      const mine = held?.chassis ?? me;
      const elsewhere = Object.entries(json.perChassis).filter(([c]) => c !== mine).reduce((n, [, st]) => n + st.stored, 0);
      if (held) {
        held.storedElsewhere = elsewhere;
        if (reached(held)) full.push(held);
        continue;
      }
      if (this.endedHere.has(json.id)) continue;
      // Past its expiry before this chassis took it up (answered as expired since): not carried
      // out (its includeExisting would trace for an ended session), its end stored.
      if (json.state !== 'active') {
        ends.push({ id: json.id, state: 'expired' });
        continue;
      }
      if (json.onChassis && !json.onChassis.includes(me)) continue;
      if (json.maxTraces && elsewhere >= json.maxTraces) {
        ends.push({ id: json.id, state: 'completed' });
        continue;
      }
      let filter: CompiledFilter | undefined;
      try {
        filter = json.filter ? compileFilter(json.filter) : undefined;
      } catch (err) {
        this.log.warn(`session ${json.id}: ${(err as Error).message}; not carried out here`);
        continue;
      }
      // With PostgreSQL this chassis's row may be in the spool only (a restart before it shipped):
      // the spool's is the newer, as no one else writes it.
      const own = this.sessions.ownCounters(json.id, me) ?? json.perChassis[me];
      const local = { ...emptyStats(), ...own };
      const session: ActiveSession = { json, filter, selectedFlows: new Set(), decidingFlows: new Map(), local, chassis: me, storedElsewhere: elsewhere };
      takenUp.push({ session, hasRow: own !== undefined, reload: own !== undefined || this.takenUpBefore(json, me) });
    }
    // This chassis's row says it took the session up, so it is written before the take-up is
    // announced: an agent restarted at any moment after a 'created' (its includeExisting under
    // way) reloads the session instead of taking it up as new again (duplicate traces).
    const unwritten = takenUp.filter((t) => !t.hasRow);
    if (unwritten.length || ends.length) {
      const at = new Date().toISOString();
      const ended = await this.store.writer.submit((tx) => {
        for (const { session: s } of unwritten) this.sessions.saveStats(tx, s.json.id, s.chassis, s.local);
        return ends.filter((e) => this.sessions.end(tx, e.id, e.state, at)).map((e) => e.id);
      });
      // With PostgreSQL the next polls may still read it active until the end has shipped. Only an
      // end that changed a row: one the spool has not pulled yet is tried again on the next poll.
      for (const id of ended) this.endedHere.add(id);
    }
    // A failed end is written again by the housekeeping: the sessions taken up are announced whatever.
    for (const s of full) await this.end(s, 'completed').catch((err: Error) => this.endFailed(s, err));
    for (const { session, reload } of takenUp) {
      this.active.set(session.json.id, session);
      // A restart's reload is quiet (the flows of the previous run were taken when the session was
      // new), but flows this run saw before the reload are new to the session: the tracer takes those.
      this.emit(reload ? 'reloaded' : 'created', session);
    }
    this.polled = true;
  }

  /** The sessions were read once: the flows of every dump since are taken or were given to them (collectors/traced-mark.ts). */
  get taken(): boolean {
    return this.polled;
  }

  /**
   * A session this chassis has no counter row for, from before per-chassis counters: whether it
   * was made here before this run. Otherwise a reload is an earlier run's counter row, not whether
   * this run's first poll took it up: a poll that waited for the local OVS database, or a central
   * database that did not answer, must not make a new session a quiet reload (its includeExisting
   * would be skipped).
   */
  private takenUpBefore(json: TraceSessionJson, me: string): boolean {
    return !Object.keys(json.perChassis).length && json.chassis === me && json.createdAt < this.startedAt;
  }

  /**
   * Before the storage's own shutdown (onApplicationShutdown): the last counters are written while
   * the writer is open and, with PostgreSQL, before the shipper's last batch takes them.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.polling;
    // The traces committed by now are counted (their 'stored' lands a turn after the commit).
    await this.store.writer.idle();
    await new Promise((r) => setImmediate(r));
    await this.ends.retry().catch((err: Error) => this.log.warn(`sessions: ends not stored at the stop (${err.message})`));
    await this.flush();
  }

  /** The session as created, with the warnings of checkRequest (an empty list when none). */
  async create(input: CreateSessionInput): Promise<TraceSessionJson & { warnings: string[] }> {
    const max = this.config.LIVETRACE_MAX_SESSIONS;
    await checkSessionLimit(this.sessions, max); // and again where it is inserted (session-limit.ts)
    const here = this.config.LIVETRACE_ROLE !== 'api';
    const warnings = await checkRequest(input, { replicas: this.replicas, here, chassis: () => this.chassis, paths: this.paths });
    const id = await createWithinLimit(this.store, this.sessions, newSessionRow(input, this.chassis, new Date()), max);
    // Here at once (the other agents take it up at their next poll).
    if (here) await this.poll();
    // Made: a spool slow to ship this process's other writes (its counters) answers it as PostgreSQL
    // holds it, not 503 ('retry' would make a second; test/postgres/session-limit.spec.ts).
    const made = await this.get(id).catch(async (err: { code?: string }) => (err.code === 'ESPOOLBEHIND' && (await this.sessions.get(id))) || Promise.reject(err));
    return { ...made, warnings };
  }

  /** From the store, after this chassis's own counters are written: every chassis's, added up. */
  async get(id: number): Promise<TraceSessionJson> {
    await this.readable();
    const r = await this.sessions.get(id);
    if (!r) throw notFound(`no trace session ${id}`);
    return r;
  }

  async list(opts: { state?: string; cursor?: number; limit: number }): Promise<Page<TraceSessionJson>> {
    await this.readable();
    return page(await this.sessions.list(opts), opts.limit);
  }

  /** Any role may stop a session: the agents let go of it at their next poll. */
  async stop(id: number): Promise<TraceSessionJson> {
    const s = await this.get(id);
    if (s.state === 'active') {
      const held = this.active.get(id);
      if (held) await this.end(held, 'stopped');
      else {
        // With PostgreSQL another api may have made it: the spool must hold the row it ends.
        await this.store.shipper?.pullSessions();
        await this.store.writer.submit((tx) => this.sessions.end(tx, id, 'stopped', new Date().toISOString()));
      }
    }
    return this.get(id);
  }

  /** The in_ports every active session is confined to, or null when one needs all flows. */
  inPortScope(): string[] | null {
    const ports = new Set<string>();
    for (const s of this.active.values()) {
      if (s.json.state !== 'active') continue;
      if (s.json.logicalPort || !s.filter?.inPort) return null;
      ports.add(s.filter.inPort);
    }
    return [...ports];
  }

  /** Active sessions that want this new datapath flow, with how. */
  select(flow: SessionFlow, parents: SessionFlow[], portNames?: ReadonlyMap<string, string>): SessionPick[] {
    const out: SessionPick[] = [];
    const now = new Date().toISOString();
    for (const s of this.active.values()) {
      // Past its expiry it takes no more flows, whether or not the housekeeping has ended it yet.
      if (s.json.state !== 'active' || (s.json.expiresAt !== null && s.json.expiresAt <= now)) continue;
      // Recomputed only when the topology or the datapath ports changed: this runs for every new flow
      // (logical flows churn far more often). The route walk (tens of ms on a large northbound) only
      // when the routing rows changed too: a VM port's rows leave it as it was (ReachWalks).
      const generation = this.replicas.model.topologyGeneration;
      if (s.json.logicalPort && (!s.portFrom || s.portFrom.generation !== generation || s.portFrom.portNames !== portNames)) {
        s.port = portTarget(this.replicas, s.json.logicalPort, portNames, this.walks) ?? s.port;
        s.portFrom = { generation, portNames };
      }
      const parentSelected = parents.some((p) => p.dbId !== undefined && s.selectedFlows.has(p.dbId));
      const deciding = parents.flatMap((p) => (p.dbId !== undefined && s.decidingFlows.get(p.dbId)) || []);
      const how = selectFlow(flow, { filter: s.filter, port: s.port, parentSelected, parentDeciding: deciding.length > 0, portNames, model: this.replicas.model });
      if (how) out.push(how === 'decide' && !parentSelected && deciding.length ? { session: s, how, parents: deciding } : { session: s, how });
    }
    return out;
  }

  count(s: ActiveSession, what: keyof Omit<SessionStats, 'dropped' | 'droppedBy' | 'failed' | 'skipped'>, n = 1): void {
    s.local[what] += n;
    this.counters.changed(s);
    // maxTraces counts every chassis's traces: the others' as of the last poll (a second late at most).
    if (what === 'stored' && reached(s)) void this.end(s, 'completed').catch((err: Error) => this.endFailed(s, err));
  }

  fail(s: ActiveSession, reason: string): void {
    s.local.failed[reason] = (s.local.failed[reason] ?? 0) + 1;
    this.counters.changed(s);
  }

  /** A flow the session selected, not taken: `reason` queue_full or spool_full (SessionStats.droppedBy). */
  drop(s: ActiveSession, reason: 'queue_full' | 'spool_full'): void {
    s.local.dropped++;
    s.local.droppedBy[reason] = (s.local.droppedBy[reason] ?? 0) + 1;
    this.counters.changed(s);
  }

  /** A flow the session selected, not traced: it could store no more when its turn came (SessionStats.skipped). */
  skip(s: ActiveSession, reason: string): void {
    s.local.skipped[reason] = (s.local.skipped[reason] ?? 0) + 1;
    this.counters.changed(s);
  }

  /** This chassis's counters, and the end if no one (another agent, an api instance) ended it first. */
  private async end(s: ActiveSession, state: 'completed' | 'expired' | 'stopped'): Promise<void> {
    if (s.json.state !== 'active') return;
    s.json.state = state;
    this.active.delete(s.json.id);
    this.endedHere.add(s.json.id);
    await this.ends.write(s, state, new Date().toISOString());
  }

  private endFailed(s: ActiveSession, err: Error): void {
    this.log.warn(`session ${s.json.id}: its end (${s.json.state}) was not stored (${err.message}); written again each second`);
  }

  private async housekeeping(): Promise<void> {
    await this.ends.retry();
    // Any agent may end an expired session: the first one's write counts, the rest change nothing.
    const now = new Date().toISOString();
    for (const s of [...this.active.values()])
      if (s.json.expiresAt && s.json.expiresAt <= now) await this.end(s, 'expired').catch((err: Error) => this.endFailed(s, err));
    await this.flush();
    await this.poll();
  }

  /** Writes this chassis's changed counters (each second, and before an answer); resolves once committed. */
  flush(): Promise<void> {
    return this.counters.flush();
  }

  /** Before an answer read from the store: this chassis's counters written, and with PostgreSQL arrived there. */
  private async readable(): Promise<void> {
    await this.flush();
    await this.store.shipper?.synced();
  }
}
