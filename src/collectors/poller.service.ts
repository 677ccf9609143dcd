// Follows the datapath flows of this chassis by dumping them (works on any unpatched OVS,
// kernel or userspace datapath) and diffing successive dumps into lifetimes. Each dump costs
// ovs-vswitchd's main thread; the interval stretches so that cost stays under a configured share.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { Counter, Gauge } from 'prom-client';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { MetricsService } from '../metrics/metrics.service';
import { parseDumpFlows, parseDumpLine } from '../ovs/dump-flows';
import { ReplicasService, settledChassisName } from '../replicas/replicas.service';
import { DatapathFlowStore } from '../datapath-flows/datapath-flow-store';
import { StoreService } from '../storage/store.service';
import { DatapathFlowTable, FlowEvent, LiveFlow, RecircLink } from './datapath-diff';
import { LifetimeSpoolBound } from './lifetime-spool-bound';
import { vswitchdInstance } from './pmd-copies-column';
import { nextPollIntervalMs } from './poll-interval';
import { PollerLifetimes } from './poller-lifetimes';
import { maxIdleOf } from './vlog-gone-check';
import { POLL_SCOPE, PollScope } from './poll-scope';
import { VswitchdService } from './vswitchd.service';

export interface PollCycle {
  at: string;
  flows: number;
  created: number;
  updated: number;
  removed: number;
  dumpMs: number;
  cycleMs: number;
  nextIntervalMs: number;
  parseErrors: number;
}

export interface PollerEvents {
  /** After the cycle's rows are committed (flows carry their dbId). */
  cycle: [events: FlowEvent[], links: RecircLink[]];
}

const UFID_AT_START = /^\s*ufid:([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/;

@Injectable()
export class PollerService extends EventEmitter<PollerEvents> implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Poller');
  readonly table: DatapathFlowTable;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private lastPid: number | null = null;
  lastCycle: PollCycle | null = null;
  lastError: string | null = null;
  private busyMs = 0;
  private readonly startedAt = Date.now();
  /** The lifetimes the previous run left open are picked up (seedFromStore). */
  private seeded = false;
  private markSeeded!: () => void;
  private readonly seededOnce = new Promise<void>((resolve) => (this.markSeeded = resolve));

  /** No dump yet: the local OVS database has not named this chassis, whose open lifetimes go on first (seedFromStore). */
  get waitingForChassis(): boolean {
    return !this.seeded;
  }

  /** Resolves once the previous run's open lifetimes are in the table (a session's includeExisting walks them too). */
  whenSeeded(): Promise<void> {
    return this.seededOnce;
  }
  private readonly m: { cycles: Counter; events: Counter; cycleSeconds: Gauge; live: Gauge; share: Gauge };
  /** The lifetimes each cycle's events begin, move and end, written to the store (poller-lifetimes.ts). */
  private readonly lifetimes: PollerLifetimes;

  constructor(
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    private readonly vswitchd: VswitchdService,
    private readonly store: StoreService,
    private readonly flows: DatapathFlowStore,
    private readonly replicas: ReplicasService,
    metrics: MetricsService,
    /** The spool's bound, the one policy the vlog source's lifetimes follow too (lifetime-spool-bound.ts). */
    bound: LifetimeSpoolBound,
    /** The in_ports the active sessions need (LIVETRACE_POLL_SCOPE=sessions); none: every flow. */
    @Optional() @Inject(POLL_SCOPE) private readonly scope?: PollScope,
  ) {
    super();
    // Recirculation edges after a bare ct(nat) follow the NAT bindings OVN can make (kernel-form keys
    // keep no trace of them). The specs' stand-ins for ReplicasService have no model: no rewrites.
    this.table = new DatapathFlowTable((zone) => this.replicas.model?.natRewrites(zone) ?? []);
    this.lifetimes = new PollerLifetimes(store, flows, bound, this.table, () => vswitchdInstance(this.vswitchd.currentPid));
    const registers = [metrics.registry];
    this.m = {
      cycles: new Counter({ name: 'livetrace_poll_cycles_total', help: 'Datapath dumps done', labelNames: ['result'], registers }),
      events: new Counter({ name: 'livetrace_datapath_flow_events_total', help: 'Datapath flow lifetime events', labelNames: ['type'], registers }),
      cycleSeconds: new Gauge({ name: 'livetrace_poll_cycle_seconds', help: 'Duration of the last dump (ovs-vswitchd round trip) and diff', labelNames: ['part'], registers }),
      live: new Gauge({ name: 'livetrace_datapath_flows_live', help: 'Datapath flows in the last dump', registers }),
      share: new Gauge({ name: 'livetrace_vswitchd_time_share', help: "Share of ovs-vswitchd's main thread spent answering our dumps and traces since start", registers }),
    };
  }

  get chassis(): string {
    return this.replicas.chassisName() ?? hostname();
  }

  onApplicationBootstrap(): void {
    if (!this.config.LIVETRACE_POLLER) return;
    this.vswitchd.on('restarted', (pid) => void this.onRestart(pid));
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Time spent in ovs-vswitchd on our behalf (the tracer adds its calls). */
  addBusy(ms: number): void {
    this.busyMs += ms;
    this.m.share.set(this.busyMs / Math.max(1, Date.now() - this.startedAt));
  }

  /**
   * Picks up the lifetimes a previous run of the service left open on this chassis, before the first
   * dump (whose diff would end them as gone, or begin them again). Only this chassis's: agents of
   * several chassis may write one SQLite file, and another's flows are not in this datapath's dump
   * (test/unit/collectors/poller-restart-shared-store.spec.ts). False: the chassis is not named yet.
   */
  private seedFromStore(): boolean {
    if (this.seeded) return true;
    const chassis = settledChassisName(this.replicas);
    if (chassis === undefined) return false;
    const rows = this.flows.open('poller', chassis);
    this.seeded = true;
    const bad: number[] = [];
    for (const r of rows) {
      try {
        const flow = parseDumpLine(`ufid:${r.ufid}, ${r.key}, packets:${r.packets}, bytes:${r.bytes}, used:${r.used ?? 'never'}, actions:${r.actions}`);
        this.table.seed(flow, { dbId: r.id, firstSeen: r.firstSeen, lastSeen: r.lastSeen, pmdCopies: r.pmdCopies });
      } catch {
        bad.push(r.id);
      }
    }
    if (rows.length) this.log.log(`continuing ${rows.length - bad.length} datapath flow lifetimes left open by the previous run on ${chassis}`);
    if (bad.length) {
      this.log.warn(`${bad.length} stored open lifetimes could not be re-read: closed as unreadable`);
      const at = new Date().toISOString();
      void this.store.writer.submit((tx) => bad.forEach((id) => this.flows.close(tx, id, at, 'unreadable')));
    }
    this.markSeeded();
    return true;
  }

  // One timer at a time: a cycle run from outside (an on-demand trace) moves the next poll back
  // instead of starting a second loop (each such call used to leave one more loop running for good).
  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped || !this.config.LIVETRACE_POLLER) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.cycle().then(
        () => undefined,
        () => undefined,
      );
    }, ms);
  }

  private inFlight: Promise<PollCycle | null> | undefined;

  /**
   * One dump + diff + store; also callable directly (tests, on-demand traces). Callers that come
   * while a cycle runs share it: any number of requests costs ovs-vswitchd one dump at a time.
   */
  cycle(): Promise<PollCycle | null> {
    this.inFlight ??= this.runCycle().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async runCycle(): Promise<PollCycle | null> {
    const t0 = performance.now();
    let next = this.config.LIVETRACE_POLL_INTERVAL_MS;
    try {
      if (!this.seedFromStore()) {
        next = Math.min(next, 200);
        this.lastError = 'waiting for the local OVS database to name this chassis (external_ids:system-id) before the first dump';
        return null;
      }
      const scope = this.config.LIVETRACE_POLL_SCOPE === 'sessions' ? (this.scope?.inPortScope() ?? null) : null;
      let dumped = await this.dump(scope);
      for (let again = true; ; again = false) {
        if (this.lastPid !== null && this.vswitchd.currentPid !== this.lastPid) await this.onRestart();
        this.lastPid = this.vswitchd.currentPid;
        // A dump is the flows of the process that answered it: one begun on a process that has
        // restarted since (a call a port, some before the restart) is dropped, not stored as the new
        // process's flows, and the new one dumped.
        if ([...dumped.pids].every((pid) => pid === this.vswitchd.currentPid)) break;
        if (!again) throw new Error('ovs-vswitchd restarted during two dumps in a row');
        dumped = await this.dump(scope);
      }
      const text = dumped.text;
      const dumpMs = performance.now() - t0;
      this.addBusy(dumpMs);
      // Every line is checked now, but a flow's key and actions are built only when read: the
      // diff compares dumped text, so only new or changed flows are ever looked at.
      const dump = parseDumpFlows(text, { build: 'on-read' });
      const now = new Date().toISOString();
      // A refused line's flow is still installed: not ended for it (nor begun again at the next dump).
      const unread = new Set(dump.errors.map((e) => UFID_AT_START.exec(e.text)?.[1]).filter((u) => u !== undefined));
      const { events, links } = this.table.apply(dump.items, now, scope === null ? undefined : new Set(scope), vswitchdInstance(this.vswitchd.currentPid), unread);
      await this.lifetimes.persist(events, links, this.chassis);
      const count = (t: FlowEvent['type']) => events.filter((e) => e.type === t).length;
      for (const t of ['ukey_created', 'ukey_updated', 'ukey_removed'] as const) this.m.events.inc({ type: t }, count(t));
      next = nextPollIntervalMs(this.config.LIVETRACE_POLL_INTERVAL_MS, dumpMs, this.config.LIVETRACE_POLL_MAX_SHARE, maxIdleOf(this.replicas.ovsOtherConfig?.('max-idle')));
      const cycleMs = performance.now() - t0;
      this.lastCycle = {
        at: now,
        flows: this.table.live.size,
        created: count('ukey_created'),
        updated: count('ukey_updated'),
        removed: count('ukey_removed'),
        dumpMs: Math.round(dumpMs * 10) / 10,
        cycleMs: Math.round(cycleMs * 10) / 10,
        nextIntervalMs: Math.round(next),
        parseErrors: dump.errors.length,
      };
      if (dump.errors.length) this.log.warn(`dump had ${dump.errors.length} unparsable lines, first: line ${dump.errors[0].line}: ${dump.errors[0].error.message}`);
      this.lastError = null;
      this.m.cycles.inc({ result: 'ok' });
      this.m.cycleSeconds.set({ part: 'dump' }, dumpMs / 1000);
      this.m.cycleSeconds.set({ part: 'total' }, cycleMs / 1000);
      this.m.live.set(this.table.live.size);
      this.emit('cycle', events, links);
      return this.lastCycle;
    } catch (err) {
      this.lastError = (err as Error).message;
      this.m.cycles.inc({ result: 'error' });
      next = Math.min(10_000, Math.max(this.config.LIVETRACE_POLL_INTERVAL_MS, 2000));
      return null;
    } finally {
      this.schedule(next);
    }
  }

  /** One dump, whole or a call a port of the scope, with the pids of the processes that answered. */
  private async dump(scope: string[] | null): Promise<{ text: string; pids: Set<number | null> }> {
    const pids = new Set<number | null>();
    const call = async (args: string[]) => {
      const r = await this.vswitchd.callServed('dpctl/dump-flows', args, 60_000);
      pids.add(r.pid);
      return r.text;
    };
    let text = '';
    if (scope === null) text = await call(['-m']);
    else for (const port of scope) text += (await call(['-m', `filter=in_port=${port}`])) + '\n';
    return { text, pids };
  }

  private async onRestart(pid = this.vswitchd.currentPid): Promise<void> {
    // Once a restart: a dump that reached the new process before the call that noticed it announced
    // it ('restarted' comes after that call asks the new process for its commands) has handled it,
    // and its new lifetimes are the new process's.
    if (this.lastPid !== null && this.lastPid === pid) return;
    const events = this.table.clear('vswitchd_restarted', new Date().toISOString());
    this.vswitchd.invalidateDatapath();
    this.lastPid = this.vswitchd.currentPid;
    await this.lifetimes.persist(events, [], this.chassis);
    if (events.length) this.emit('cycle', events, []);
  }

  liveFlows(): LiveFlow[] {
    return [...this.table.live.values()];
  }
}
