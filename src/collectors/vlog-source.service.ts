// Upcalls from ovs-vswitchd's own log, on any unpatched OVS: the log file (followed across
// rotation) and/or UDP syslog. Upcall records wait in the linker until the flow_add / put whose
// key under mask they fit appears (facts §3), then are stored with the flow they installed. The
// log is rate-limited (600 lines a minute per message by default), so this source samples: what
// vswitchd says it dropped is counted, and GET /upcalls says `sampled`. While the spool is full
// (LIVETRACE_SPOOL_MAX_CHANGES) its rows follow the poller's policy (lifetime-spool-bound.ts). A
// record saying what vswitchd cannot have logged is refused as it is read (vlog-refuse.ts).
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import type { Socket } from 'node:dgram';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { MetricsService } from '../metrics/metrics.service';
import { VlogOutput, VlogParser, VlogRecord } from '../ovs/vlog';
import { DatapathFlowStore } from '../datapath-flows/datapath-flow-store';
import { StoreService } from '../storage/store.service';
import type { WriteContext } from '../storage/writer';
import { InstalledFlow, Released, UpcallLinker } from '../upcalls';
import { UpcallStore } from '../upcalls/upcall-store';
import { UpcallsService } from '../upcalls/upcalls.service';
import { FileFollower, listenSyslog } from './vlog-follow';
import { LifetimeSpoolBound } from './lifetime-spool-bound';
import { VlogLevels } from './vlog-levels';
import { ReplicasService, settledChassisName } from '../replicas/replicas.service';
import { checkFlowIn, DatapathAnswers, GoneChecks, maxIdleOf } from './vlog-gone-check';
import { VlogLifetimes } from './vlog-lifetimes';
import { vlogMetrics, type VlogMetrics } from './vlog-metrics';
import { copyHolder } from './vlog-pmd-copies';
import { LogClock } from './vlog-log-clock';
import { refusal, refused, RefusedLog, type ReadFrom, type Refusal } from './vlog-refuse';
import { committed, writeJob } from './vlog-write-job';
import { type Draft, draftOf, upcallRow, type WriteItem } from './vlog-write-items';
import { ApartLog, DropLog, isolate, passing, WriteRetry } from './vlog-write-retry';
import { VswitchdService } from './vswitchd.service';

const TICK_MS = 250;
/** dpctl/get-flow calls a tick at most (20 a second): each is a little of vswitchd's main thread. */
const CHECKS_PER_TICK = 5;

@Injectable()
export class VlogSourceService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('VlogSource');
  private readonly logClock = new LogClock();
  private readonly linker = new UpcallLinker<Draft>({ maxWaitMs: 3000, maxPending: 20_000 });
  private readonly parsers = new Map<string, VlogParser>();
  /** Where each parser's lines come from (a file stream's first byte), for the line numbers its warnings give. */
  private readonly readFrom = new Map<string, ReadFrom>();
  private follower: FileFollower | null = null;
  private socket: Socket | null = null;
  private timer: NodeJS.Timeout | undefined;
  private queue: WriteItem[] = [];
  private writing: Promise<unknown> = Promise.resolve();
  /** A failed batch's items, written again first after a wait, within bounds (vlog-write-retry.ts). */
  private readonly retry = new WriteRetry<WriteItem>();
  private readonly dropLog = new DropLog();
  private readonly apartLog = new ApartLog();
  /** Items of the batch being written (or written apart): within MAX_UNWRITTEN with the queue (keepBound). */
  private writingItems = 0;
  /** Records refused as read (vlog-refuse.ts), warned of at a bounded rate. */
  private readonly refusedLog = new RefusedLog();
  /** vswitchd's vlog levels raised to dbg for the lines read, put back on shutdown (vlog-levels.ts). */
  private readonly levels: VlogLevels;
  /** Vlog lifetimes (LIVETRACE_POLLER=false) no log line ended: checked in the datapath once they may be gone (vlog-gone-check.ts). */
  private readonly gone: GoneChecks;
  /** What each datapath answered lately: one that always errs does not veto every check for good (vlog-gone-check.ts). */
  private readonly dpAnswers: DatapathAnswers;
  /** Their rows, and the ones the full spool holds back (vlog-lifetimes.ts). */
  private readonly lifetimes: VlogLifetimes;
  private checking: Promise<void> | null = null;
  /** The previous run's open lifetimes are watched (watchOpen). */
  private watchedOpen = false;
  private readonly m: VlogMetrics;

  constructor(
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    private readonly vswitchd: VswitchdService,
    private readonly upcalls: UpcallsService,
    private readonly store: StoreService,
    private readonly flows: DatapathFlowStore,
    private readonly upcallStore: UpcallStore,
    metrics: MetricsService,
    /** The spool's bound: the poller's check, metric and policy (lifetime-spool-bound.ts). */
    private readonly bound: LifetimeSpoolBound,
    /** The local Open_vSwitch row: its other_config:max-idle paces the checks (none: vswitchd's default). */
    @Optional() private readonly replicas?: ReplicasService,
  ) {
    // Read at each use: a max-idle changed in the database applies to the checks watched after it.
    const maxIdle = () => maxIdleOf(replicas?.ovsOtherConfig('max-idle'));
    this.gone = new GoneChecks(maxIdle);
    this.dpAnswers = new DatapathAnswers(maxIdle);
    this.lifetimes = new VlogLifetimes(flows, this.gone, bound);
    this.m = vlogMetrics(metrics.registry, () => this.lifetimes.heldBack);
    const wanted = [...(config.LIVETRACE_VLOG_FILE ? ['file'] : []), ...(config.LIVETRACE_VLOG_UDP ? ['syslog'] : [])];
    this.levels = new VlogLevels(vswitchd, wanted, this.log);
  }

  get enabled(): boolean {
    return !!(this.config.LIVETRACE_VLOG_FILE || this.config.LIVETRACE_VLOG_UDP);
  }

  /** The file follower (tests wait on its offset). */
  get fileFollower(): FileFollower | null {
    return this.follower;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    this.upcalls.logSource.enabled = true;
    if (this.config.LIVETRACE_VLOG_SET_LEVELS) {
      await this.levels.raise().catch((err: Error) => this.log.warn(`could not set vlog levels: ${err.message}`));
      this.vswitchd.on('restarted', () => void this.levels.raise().catch(() => undefined));
    }
    if (this.config.LIVETRACE_VLOG_FILE) {
      const f = new FileFollower(this.config.LIVETRACE_VLOG_FILE);
      const file = this.config.LIVETRACE_VLOG_FILE;
      f.on('lines', (lines, stream, fromByte) => {
        const p = this.parser(`file:${stream}`, { file, fromByte });
        for (const l of lines) this.onOutput(p.pushLine(l), { file, fromByte });
        this.keepBound();
      });
      f.on('end', (stream, fromByte) => {
        this.onOutput(this.parser(`file:${stream}`, { file, fromByte }).flush(), { file, fromByte });
        this.parsers.delete(`file:${stream}`);
        this.readFrom.delete(`file:${stream}`);
        this.keepBound();
      });
      f.on('rotated', (kind) => {
        this.m.rotations.inc({ kind });
        this.upcalls.logSource.rotations[kind]++;
        if (kind === 'truncated') this.log.warn(`${this.config.LIVETRACE_VLOG_FILE} was truncated: lines written since the last read are lost`);
      });
      f.on('error', (err) => this.log.warn(`following ${this.config.LIVETRACE_VLOG_FILE}: ${err.message}`));
      await f.start();
      this.follower = f;
    }
    if (this.config.LIVETRACE_VLOG_UDP) {
      const from = { udp: this.config.LIVETRACE_VLOG_UDP };
      const p = this.parser('udp', from);
      this.socket = await listenSyslog(this.config.LIVETRACE_VLOG_UDP, (text) => {
        this.onOutput(p.pushDatagram(text), from);
        this.keepBound();
      });
    }
    this.watchOpen();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.log.log(`reading upcalls from ${[this.config.LIVETRACE_VLOG_FILE, this.config.LIVETRACE_VLOG_UDP && `udp ${this.config.LIVETRACE_VLOG_UDP}`].filter(Boolean).join(' and ')}`);
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.enabled) return;
    if (this.timer) clearInterval(this.timer);
    await this.checking;
    await this.follower?.stop();
    this.socket?.close();
    for (const [name, p] of this.parsers) this.onOutput(p.flush(), this.readFrom.get(name)!);
    this.release(this.linker.flush());
    this.keepBound();
    await this.flushWrites(true);
    this.logDrops(this.dropLog.due(Date.now(), true));
    this.logDrops(this.apartLog.due(Date.now(), true));
    this.logRefused(this.refusedLog.due(Date.now(), true));
    this.lifetimes.shutdown();
    if (this.levels.raised) await this.levels.restore().catch((err: Error) => this.log.warn(`could not restore vlog levels: ${err.message}`));
  }

  /** Resolves once everything read so far is committed (tests). */
  async settle(): Promise<void> {
    await this.follower?.poll();
    this.tick();
    await this.writing;
  }

  private parser(name: string, from: ReadFrom): VlogParser {
    let p = this.parsers.get(name);
    if (!p) {
      this.parsers.set(name, (p = new VlogParser()));
      this.readFrom.set(name, from);
    }
    return p;
  }

  /**
   * Records read from `from` (a stream of the file, the UDP listener). Called from the follower's and the socket's
   * events: a throw here would lose the rest of the read, or end the process (nothing catches a
   * socket's). A record the source cannot take is refused, and the next one read.
   */
  private onOutput(out: VlogOutput, from: ReadFrom): void {
    for (const r of out.records) {
      this.m.records.inc({ kind: r.event?.type ?? 'other' });
      try {
        const why = refusal(r);
        if (why) this.refuse(r, from, why);
        else this.onRecord(r);
      } catch (err) {
        this.refuse(r, from, refused(err));
      }
    }
  }

  private refuse(r: VlogRecord, from: ReadFrom, why: Refusal): void {
    this.m.refused.inc({ reason: why.reason });
    this.logRefused(this.refusedLog.add(r, from, why, Date.now()));
  }

  private logRefused(line: string | null): void {
    if (line) this.log.warn(line);
  }

  /** At most MAX_UNWRITTEN wait, also while a retry waits (a log flood). Once a read (file chunk, datagram): a flood's drops one log line a read, not a line each. */
  private keepBound(): void {
    const dropped = this.retry.overBound(this.queue, this.writingItems);
    if (dropped.length) this.unwritten(dropped);
  }

  private onRecord(r: VlogRecord): void {
    const e = r.event;
    if (!e) return;
    // The linker's wait (expire, on the agent's clock) counts from when the line was read: from the
    // line's own time, an upcall of a vswitchd whose clock is minutes behind was released unlinked at
    // the first tick, minutes ahead it waited minutes. The record keeps vswitchd's time for display.
    const at = Date.now();
    // Ordered against the checks on the agent's clock (vlog-log-clock.ts), shown at vswitchd's time.
    const heard = this.logClock.heard(r.time, at);
    switch (e.type) {
      case 'upcall':
        this.upcalls.logSource.upcalls++;
        if (!e.parsedKey) {
          this.queue.push({ kind: 'upcall', released: { upcall: draftOf(r, e, heard), flow: null } });
          return;
        }
        this.release(this.linker.addUpcall(draftOf(r, e, heard), e.parsedKey, at));
        return;
      case 'flow_add':
      case 'flow_mod':
      case 'flow_put': {
        // lib/dpif.c's put: [create] an install (handlers), [modify] the revalidators' change of its
        // actions in place (UKEY_MODIFY: same UFID, counters kept), read as dpif_netdev's flow_mod is.
        if (!e.parsedKey || !e.ufid || (e.type === 'flow_put' && (e.failure !== null || !(e.flags.includes('create') || e.flags.includes('modify'))))) return;
        const flow: InstalledFlow = { ufid: e.ufid, megaUfid: 'megaUfid' in e ? e.megaUfid : null, key: e.key, parsedKey: e.parsedKey, actions: e.actions ?? '', at };
        // flow_add and flow_mod are lib/dpif-netdev.c's alone: the flow lives in a userspace datapath (checkFlowIn).
        if (!this.config.LIVETRACE_POLLER) this.queue.push({ kind: 'flow', flow, time: r.timestamp, heard, thread: copyHolder(e.type, r), userspace: e.type !== 'flow_put' });
        this.release(this.linker.addFlow(flow));
        return;
      }
      case 'flow_del':
        if (!this.config.LIVETRACE_POLLER && e.ufid && e.failure === null) this.queue.push({ kind: 'flow_del', ufid: e.ufid, time: r.timestamp, heard });
        return;
      case 'dropped_messages':
        this.m.dropped.inc(e.count);
        this.upcalls.logSource.droppedMessages += e.count;
        return;
      default:
        return;
    }
  }

  private release(rs: Released<Draft>[]): void {
    for (const r of rs) this.queue.push({ kind: 'upcall', released: r });
  }

  /** The previous run's open lifetimes of this chassis watched, once the chassis is named (until then each tick asks again). */
  private watchOpen(): void {
    if (this.watchedOpen || this.config.LIVETRACE_POLLER) return;
    const chassis = this.replicas ? settledChassisName(this.replicas) : this.upcalls.chassis;
    if (chassis === undefined) return;
    this.watchedOpen = true;
    this.lifetimes.watchOpen(chassis);
  }

  private tick(): void {
    this.watchOpen();
    this.release(this.linker.expire(Date.now()));
    this.m.waiting.set(this.linker.waiting);
    // One `held` waiting is enough: held counters stay until a write of them commits (writeHeld).
    if (this.lifetimes.catchUp() && !this.queue.some((i) => i.kind === 'held')) this.queue.push({ kind: 'held' });
    if (!this.config.LIVETRACE_POLLER && !this.checking && this.gone.size) this.checking = this.checkGone().finally(() => (this.checking = null));
    this.keepBound();
    this.logDrops(this.dropLog.due(Date.now()));
    this.logDrops(this.apartLog.due(Date.now()));
    this.logRefused(this.refusedLog.due(Date.now()));
    if (this.queue.length) void this.flushWrites();
  }

  /** The lifetimes that may have gone idle, each asked for once in the datapath; the answers are written in order with the rest. */
  private async checkGone(): Promise<void> {
    const due = this.gone.take(Date.now(), CHECKS_PER_TICK);
    if (!due.length) return;
    // Every datapath: the log's userspace flow_add lines name none (vlog-gone-check.ts checkFlowIn).
    const dps = (await this.vswitchd.datapaths().catch(() => [])).map((d) => d.name);
    for (const { id, ufid } of due) {
      const knew = { home: this.gone.homeOf(id), userspace: this.gone.isUserspace(id) };
      const result = await checkFlowIn((command, args) => this.vswitchd.call(command, args), dps, ufid, { answers: this.dpAnswers, ...knew });
      if (result.state === 'unknown') this.lifetimes.unknown(id, ufid); // nothing learnt: later, or given up (vlog-lifetimes.ts)
      // Its time shown on vswitchd's clock, as the lifetime's others (vlog-log-clock.ts shownAt).
      else this.queue.push({ kind: 'checked', id, ufid, at: Date.now(), result, ...knew, offset: this.logClock.offset() });
    }
    this.keepBound();
  }

  /**
   * Writes are chained so rows land in the order they were decided: each write takes the queue as it
   * is when its turn comes, a failed batch's items at its head once their wait has passed. `last`: the
   * service stops, one attempt whatever the wait, and what fails is given up.
   */
  private flushWrites(last = false): Promise<unknown> {
    this.writing = this.writing.then(() => this.writeQueued(last));
    return this.writing;
  }

  private async writeQueued(last: boolean): Promise<void> {
    if (!last && this.retry.waiting(Date.now())) return;
    const items = this.queue.splice(0);
    if (!items.length) return;
    this.writingItems = items.length;
    await this.writeBatch(items, last).finally(() => (this.writingItems = 0));
  }

  private async writeBatch(items: WriteItem[], last: boolean): Promise<void> {
    const err = await this.writeItems(items);
    if (err === null) return;
    if (passing(err)) return this.failed(items, err, last);
    // Usually one item's failure (vlog-write-retry.ts isolate): the others written now, in order, not
    // after the waits; none written alone, the store's: retried as a passing failure.
    const { bad, rest, restErr, store, kept } = await isolate(items, err, (part) => this.writeItems(part), (i) => this.retry.failedAloneBefore(i));
    if (kept) this.retry.failedAlone(kept);
    this.logDrops(this.apartLog.batch(items.length, bad, rest.length, err, Date.now()));
    if (bad.length) this.unwritten(bad.map((b) => b.item));
    if (rest.length) this.failed(rest, restErr, last, store ? 'no event of it written alone, the store refusing them all' : undefined);
  }

  /** One write job of `items`: null once committed, else its error, its rows and what it did in memory rolled back. */
  private async writeItems(items: WriteItem[]): Promise<unknown> {
    const chassis = this.upcalls.chassis;
    const job = writeJob(); // across the writer's replay of the job
    try {
      // Counted once committed (VlogLifetimes.afterCommit): each run (a rolled-back one, the writer's replay, a retry) anew.
      await this.store.writer.submit((tx) => this.lifetimes.making(job, () => items.forEach((i) => this.write(tx, i, chassis))));
      committed(job);
      return null;
    } catch (err) {
      // Its rows rolled back, what it did in memory to them too: written again as if never written.
      this.lifetimes.rolledBack(job);
      return err;
    }
  }

  /** `items` failed to be written, a passing failure: back at the queue's head after a wait, or given up (vlog-write-retry.ts). */
  private failed(items: WriteItem[], err: unknown, last: boolean, why?: string): void {
    const { again, dropped, wait } = this.retry.failed(items, Date.now(), this.queue.length, last);
    this.queue.unshift(...again);
    this.log.error(`storing ${items.length} log events failed: ${(err as Error).message}${why ? ` (${why})` : ''}${again.length ? `; ${again.length} written again in ${wait} ms` : ''}`);
    if (dropped.length) this.unwritten(dropped);
  }

  /**
   * Items given up (vlog-write-retry.ts: failing past their retries, or the oldest over the bound):
   * counted and logged by kind. A check's lifetime was unwatched when the check was taken (GoneChecks.take) until its answer is written: lost with the batch,
   * nothing would ask again and the lifetime stayed open for ever. Each still open is watched again, a
   * max-idle from now, with what its check knew, whatever the failed job did in memory before it threw
   * (an end forgets its check: that end was rolled back): VlogLifetimes.unwritten. Only here, not at
   * each failure: a check put back to be written again is not watched as well (two answers).
   */
  private unwritten(items: WriteItem[]): void {
    const kinds = new Map<string, number>();
    for (const i of items) kinds.set(i.kind, (kinds.get(i.kind) ?? 0) + 1);
    for (const [kind, n] of kinds) this.m.unwritten.inc({ kind }, n);
    this.logDrops(this.dropLog.add(kinds, Date.now()));
    for (const i of items) if (i.kind === 'checked') this.lifetimes.unwritten(i, Date.now());
  }

  private logDrops(line: string | null): void {
    if (line) this.log.error(line);
  }

  /** Inside the write job (VlogLifetimes.making): what it counts, counted once the job commits (afterCommit). */
  private write(tx: WriteContext, item: WriteItem, chassis: string): void {
    if (item.kind === 'flow') return this.lifetimes.installed(tx, item.flow, item.time, chassis, item.thread, item.userspace, item.heard);
    if (item.kind === 'flow_del') return this.lifetimes.deleted(tx, item.ufid, item.time, chassis, item.heard);
    if (item.kind === 'held') return this.lifetimes.writeHeld(tx);
    if (item.kind === 'checked') return this.lifetimes.checked(tx, item, chassis);
    const { upcall: d, flow } = item.released;
    this.lifetimes.afterCommit(() => this.m.upcalls.inc({ linked: flow ? 'yes' : 'no' }));
    // A row an upcall, growing with traffic: not stored while the spool is full, never later (the
    // log already samples them; holding them would grow the agent's memory instead).
    if (this.bound.full) {
      this.lifetimes.afterCommit(() => {
        this.m.upcallsDropped.inc({ reason: 'spool_full' });
        this.upcalls.logSource.droppedSpoolFull++;
      });
      return;
    }
    const datapathFlowId = flow && !this.config.LIVETRACE_POLLER ? (this.flows.openOf(tx, 'vlog', chassis, flow.ufid)?.id ?? null) : null;
    this.upcallStore.insert(tx, upcallRow(d, flow, chassis, datapathFlowId));
  }
}
