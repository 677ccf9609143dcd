// Trace sessions: what live traffic to trace, for how long, how much. Kept in memory for the
// hot path (every new datapath flow is checked against the active ones) and in SQLite for the
// API and restarts.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { compileFilter, CompiledFilter, FilterError } from '../ovs/of-filter';
import { ApiError, badRequest, notFound } from '../common/api-error';
import { Page, page } from '../common/query';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { ReplicasService } from '../replicas/replicas.service';
import { StoreService } from '../storage/store.service';
import { emptyStats, SessionStats, TraceSessionJson, TraceSessionStore } from './trace-session-store';
import { parseAddresses, PortTarget, selectFlow, Selection, SessionFlow } from './session-selector';

export interface CreateSessionInput {
  bridge: string;
  filter?: string;
  logicalPort?: string;
  maxTraces?: number;
  durationSeconds?: number;
  includeExisting?: boolean;
  crossCheck?: boolean;
}

export interface ActiveSession {
  json: TraceSessionJson;
  filter?: CompiledFilter;
  port?: PortTarget;
  /** What `port` was computed from: the OVN model's generation and the dpif/show port names. */
  portFrom?: { generation: number; portNames?: ReadonlyMap<string, string> };
  /** Datapath flow lifetimes (dbId) selected for this session, so their recirculations are too. */
  selectedFlows: Set<number>;
  dirty: boolean;
}

@Injectable()
export class TraceSessionsService extends EventEmitter<{ created: [ActiveSession] }> implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('TraceSessions');
  readonly active = new Map<number, ActiveSession>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    private readonly store: StoreService,
    private readonly sessions: TraceSessionStore,
    private readonly replicas: ReplicasService,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    // An api instance carries out no session (the agents do, and write their counters and ends):
    // it reads them from the store, and holding them here would expire them into the agents' rows.
    if (this.config.LIVETRACE_ROLE === 'api') return;
    // Sessions survive a restart of the service: reload the active ones.
    for (const json of this.sessions.active()) {
      try {
        this.active.set(json.id, { json, filter: json.filter ? compileFilter(json.filter) : undefined, selectedFlows: new Set(), dirty: false });
      } catch (err) {
        this.log.warn(`session ${json.id}: ${(err as Error).message}; stopped`);
      }
    }
    this.timer = setInterval(() => void this.housekeeping(), 1000);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  async create(input: CreateSessionInput): Promise<TraceSessionJson> {
    // Every active session is checked against every new datapath flow: their number is bounded.
    if (this.active.size >= this.config.LIVETRACE_MAX_SESSIONS) {
      throw new ApiError(409, `${this.active.size} trace sessions are active (LIVETRACE_MAX_SESSIONS=${this.config.LIVETRACE_MAX_SESSIONS}): stop one first (DELETE /trace-sessions/:id)`, 'body');
    }
    let filter: CompiledFilter | undefined;
    if (input.filter !== undefined) {
      try {
        filter = compileFilter(input.filter);
      } catch (err) {
        if (err instanceof FilterError) throw badRequest('filter', err.message);
        throw err;
      }
    }
    await this.checkAgainstSwitch(input.bridge, filter);
    if (input.logicalPort !== undefined && !this.portTarget(input.logicalPort)) {
      throw notFound(`no logical port named ${JSON.stringify(input.logicalPort)} in the southbound database`, 'logicalPort');
    }
    const now = new Date();
    const json: Omit<TraceSessionJson, 'id'> = {
      chassis: this.replicas.chassisName() ?? hostname(),
      createdAt: now.toISOString(),
      bridge: input.bridge,
      filter: input.filter ?? null,
      logicalPort: input.logicalPort ?? null,
      maxTraces: input.maxTraces ?? null,
      durationSeconds: input.durationSeconds ?? null,
      includeExisting: !!input.includeExisting,
      crossCheck: !!input.crossCheck,
      expiresAt: input.durationSeconds ? new Date(now.getTime() + input.durationSeconds * 1000).toISOString() : null,
      state: 'active',
      endedAt: null,
      stats: emptyStats(),
    };
    const id = await this.store.writer.submit((tx) => this.sessions.insert(tx, json));
    const session: ActiveSession = { json: { id, ...json }, filter, selectedFlows: new Set(), dirty: false };
    this.active.set(id, session);
    this.emit('created', session);
    return session.json;
  }

  /** The bridge and the filter's in_port must exist in the local OVS database (not just look like names). */
  private async checkAgainstSwitch(bridge: string, filter: CompiledFilter | undefined): Promise<void> {
    if (!this.replicas.status('ovs').synced && !(await this.replicas.waitSynced(5000)) && !this.replicas.status('ovs').synced) {
      throw new ApiError(503, 'the local OVS database is not synced yet, so bridge and in_port cannot be checked: retry in a moment');
    }
    const bridges = [...this.replicas.ovs.rows('Bridge')].map((b) => String(b.name));
    if (!bridges.includes(bridge)) {
      throw badRequest('bridge', `no bridge named ${JSON.stringify(bridge.slice(0, 64))} on this chassis (bridges: ${bridges.slice(0, 20).join(', ') || 'none'})`);
    }
    const port = filter?.inPort;
    if (port !== undefined && !/^\d+$/.test(port)) {
      const names = [...this.replicas.ovs.rows('Interface')].map((i) => String(i.name));
      if (!names.includes(port)) throw badRequest('filter', `in_port=${port}: no interface named ${JSON.stringify(port.slice(0, 64))} on this chassis`);
    }
  }

  get(id: number): TraceSessionJson {
    const a = this.active.get(id);
    if (a) return a.json;
    const r = this.sessions.get(id);
    if (!r) throw notFound(`no trace session ${id}`);
    return r;
  }

  list(opts: { state?: string; cursor?: number; limit: number }): Page<TraceSessionJson> {
    return page(
      this.sessions.list(opts).map((r) => this.active.get(r.id)?.json ?? r),
      opts.limit,
    );
  }

  async stop(id: number): Promise<TraceSessionJson> {
    const s = this.get(id);
    if (s.state === 'active') await this.end(this.active.get(id)!, 'stopped');
    return this.get(id);
  }

  /** The port's interfaces, datapath ports and addresses, from the live replicas. */
  portTarget(name: string, portNames?: ReadonlyMap<string, string>): PortTarget | undefined {
    const pb = this.replicas.sb.find('Port_Binding', 'logical_port', name)[0];
    if (!pb) return undefined;
    const interfaces = new Set<string>();
    for (const i of this.replicas.ovs.rows('Interface')) {
      if ((i.external_ids as Record<string, string>)['iface-id'] === name) interfaces.add(String(i.name));
    }
    const dpPorts = new Set<string>();
    if (portNames) for (const [num, n] of portNames) if (interfaces.has(n)) dpPorts.add(num);
    const lsp = this.replicas.nb.find('Logical_Switch_Port', 'name', name)[0];
    const addrs = parseAddresses([...((pb.mac as string[]) ?? []), ...(((lsp?.addresses as string[]) ?? []) as string[])]);
    return { name, interfaces, dpPorts, ...addrs };
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
  select(flow: SessionFlow, parents: SessionFlow[], portNames?: ReadonlyMap<string, string>): Array<{ session: ActiveSession; how: Exclude<Selection, null> }> {
    const out: Array<{ session: ActiveSession; how: Exclude<Selection, null> }> = [];
    for (const s of this.active.values()) {
      if (s.json.state !== 'active') continue;
      // Recomputed only when the replicas or the datapath ports changed: this runs for every new flow.
      const generation = this.replicas.model.generation;
      if (s.json.logicalPort && (s.portFrom?.generation !== generation || s.portFrom.portNames !== portNames)) {
        s.port = this.portTarget(s.json.logicalPort, portNames) ?? s.port;
        s.portFrom = { generation, portNames };
      }
      const parentSelected = parents.some((p) => p.dbId !== undefined && s.selectedFlows.has(p.dbId));
      const how = selectFlow(flow, { filter: s.filter, port: s.port, parentSelected, portNames });
      if (how) out.push({ session: s, how });
    }
    return out;
  }

  count(s: ActiveSession, what: keyof Omit<SessionStats, 'failed'>, n = 1): void {
    s.json.stats[what] += n;
    s.dirty = true;
    if (what === 'stored' && s.json.maxTraces && s.json.stats.stored >= s.json.maxTraces) void this.end(s, 'completed');
  }

  fail(s: ActiveSession, reason: string): void {
    s.json.stats.failed[reason] = (s.json.stats.failed[reason] ?? 0) + 1;
    s.dirty = true;
  }

  private async end(s: ActiveSession, state: 'completed' | 'expired' | 'stopped'): Promise<void> {
    if (s.json.state !== 'active') return;
    s.json.state = state;
    s.json.endedAt = new Date().toISOString();
    this.active.delete(s.json.id);
    await this.store.writer.submit((tx) => this.sessions.end(tx, s.json.id, state, s.json.endedAt, s.json.stats));
  }

  private async housekeeping(): Promise<void> {
    const now = new Date().toISOString();
    for (const s of [...this.active.values()]) if (s.json.expiresAt && s.json.expiresAt <= now) await this.end(s, 'expired');
    await this.flush();
  }

  /** Writes changed counters (at most once a second per session). */
  async flush(): Promise<void> {
    const dirty = [...this.active.values()].filter((s) => s.dirty);
    if (!dirty.length) return;
    dirty.forEach((s) => (s.dirty = false));
    await this.store.writer.submit((tx) => {
      for (const s of dirty) this.sessions.saveStats(tx, s.json.id, s.json.stats);
    });
  }
}
