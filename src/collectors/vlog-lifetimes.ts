// The rows of the vswitchd log source's datapath flow lifetimes (LIVETRACE_POLLER=false), written
// inside the writer's jobs in the order the source decided them, and the spool's bound on them
// (LIVETRACE_SPOOL_MAX_CHANGES), the poller's policy through its one owner (lifetime-spool-bound.ts).
// While the spool is full a new lifetime is held back in memory, not stored; the log does not say
// when its flow goes (the userspace datapath logs no deletion, vlog-gone-check.ts), so it is checked
// in the datapath as a stored one is, under a negative id: found gone, it is lost (no row, no end);
// once the spool has room it is checked at once and stored if installed, first seen when its log line
// said. Memory stays bounded by the flows installed, and by MAX_FAILED_CHECKS while checks fail. A stored lifetime's counters from a check wait;
// its end (flow_del, gone, actions changed, counters fallen) is written all the same, with them.
import { DatapathFlowStore } from '../datapath-flows/datapath-flow-store';
import { recircIdHex } from '../ovs/ids';
import type { DumpedFlow } from '../ovs/dump-flows';
import { inPort, parseKey, recircId } from '../ovs/odp-key';
import type { WriteContext } from '../storage/writer';
import type { InstalledFlow } from '../upcalls';
import { actionsOf } from './datapath-diff';
import { LifetimeSpoolBound, type LifetimeWriteOutcome } from './lifetime-spool-bound';
import type { Counts } from './pmd-copies-column';
import { type CheckedItem, endByCheck, heardAt, MAX_FAILED_CHECKS } from './vlog-check-answer';
import { GONE_REASON, GoneChecks, loggedByDpifNetdev } from './vlog-gone-check';
import { began, ended, lastHeard, shownAt } from './vlog-log-clock';
import { VlogPmdCopies } from './vlog-pmd-copies';
import { type Seen, undo, type Unstored, type WriteJob } from './vlog-write-job';

export class VlogLifetimes {
  /** New lifetimes the full spool held back, by UFID: stored once it has room if a check finds them installed. */
  private readonly unstored = new Map<string, Unstored>();
  private nextUnstoredId = -1;
  /** Stored lifetimes' counters a check read while the spool was full: written once it has room, or with their end. */
  private readonly held = new Map<number, Seen>();
  /** Open lifetimes' copies on the userspace datapath's flow tables (vlog-pmd-copies.ts). */
  private readonly copies = new VlogPmdCopies();
  /** Stored lifetimes whose PMDs a flow_add added while the spool was full: written by writeHeld once it has room. */
  private readonly copiesHeld = new Set<number>();
  /** The running write job (making). */
  private job: WriteJob | null = null;

  constructor(
    private readonly flows: DatapathFlowStore,
    private readonly gone: GoneChecks,
    private readonly bound: LifetimeSpoolBound,
  ) {}

  /**
   * The tick's part: once the spool has room the lifetimes held back are checked at once (stored if
   * installed, lost if gone: the log does not say which). True: held counters wait for a write job.
   */
  catchUp(): boolean {
    if ((!this.unstored.size && !this.held.size && !this.copiesHeld.size) || this.bound.full) return false;
    for (const u of this.unstored.values()) {
      if (u.hurried) continue;
      u.hurried = true;
      this.gone.now(u.id, u.flow.ufid);
    }
    return this.held.size > 0 || this.copiesHeld.size > 0;
  }

  /**
   * The lifetimes a previous run left open on `chassis`, watched for their end. Only this chassis's:
   * agents of several chassis may write one SQLite file, and another's flows are not in this
   * datapath (asked, they read as gone: test/unit/collectors/vlog-restart-shared-store.spec.ts).
   */
  watchOpen(chassis: string): void {
    // Read back, its stored last seen on the agent's clock (lastHeard), no later than now (the offset
    // is its begin's; one long past is checked at once).
    const now = Date.now();
    for (const l of this.flows.open('vlog', chassis)) {
      this.gone.watch(l.id, l.ufid, Math.min(lastHeard(l), now));
      // Read back with no install line in memory: its stored key says whose line it was (a kernel datapath's refusal vetoes no userspace flow).
      if (loggedByDpifNetdev(l.key)) this.gone.inUserspace(l.id);
    }
  }

  /** Held back and never stored: a later run cannot pick them up (it reads the stored open ones). */
  shutdown(): void {
    this.bound.count('lost_spool_full', this.unstored.size);
    for (const u of this.unstored.values()) this.copies.delete(u.id);
    this.unstored.clear();
  }

  /** A log line deleted the flow of `ufid`; `heard`: when, on the agent's clock (vlog-log-clock.ts). */
  deleted(tx: WriteContext, ufid: string, time: string, chassis: string, heard = Date.parse(time)): void {
    const open = this.flows.openOf(tx, 'vlog', chassis, ufid);
    // A check reads the datapath ahead of the log: an open lifetime begun by a check after this
    // deletion (counters fallen: reset) is the flow installed after it, and the deletion ended the one
    // before. After, on the agent's clock: the check's time is the agent's, the line's vswitchd's.
    if (open && began(open) > heard) return this.endedEarlier(tx, open.id, ufid, time, chassis, heard);
    if (open) return this.end(tx, open.id, time, 'flow_del', heard);
    const u = this.unstored.get(ufid);
    // Held back and begun by a check after this deletion: the one it ended was lost at that check.
    if (u && u.heard <= heard) this.lose(u);
  }

  /** The lifetime before open `id` that a later check ended (counters_reset): ended by the deletion, then, if that was before the check. */
  private endedEarlier(tx: WriteContext, id: number, ufid: string, time: string, chassis: string, heard: number): void {
    const before = this.flows.before(tx, 'vlog', chassis, ufid, id);
    if (before && ended(before) > heard) this.flows.close(tx, before.id, time, 'flow_del', new Date(heard).toISOString());
  }

  /**
   * A log line installed `f`. A UFID installed again (after a deletion the userspace datapath does
   * not log) or modified (flow_mod) with other actions is a new lifetime: a stored pass keeps its key
   * and actions. While the spool is full a new lifetime is held back (lifetime-spool-bound.ts).
   */
  installed(tx: WriteContext, f: InstalledFlow, time: string, chassis: string, thread: string | null = null, userspace = false, heard = Date.parse(time)): void {
    // A dpif_netdev line: the flow is in a userspace datapath, which a kernel one's refusal cannot veto (checkFlowIn).
    const placed = (id: number): void => (userspace ? this.gone.inUserspace(id) : undefined);
    const open = this.flows.openOf(tx, 'vlog', chassis, f.ufid);
    if (open && open.actions === f.actions) {
      this.copies.load(open);
      this.notePmd(open.id, thread, tx); // another PMD's copy, or the same PMD's put again
      placed(open.id);
      // Begun by a check later than this line (counters fallen: reset, the log read behind the datapath): installed then.
      if (began(open) > heard) this.flows.seenEarlier(tx, open.id, time);
      return this.gone.watch(open.id, f.ufid, f.at); // put again: installed when its line was read
    }
    if (open) this.end(tx, open.id, time, 'actions_changed', heard);
    const was = this.unstored.get(f.ufid);
    if (was && was.flow.actions === f.actions) {
      this.notePmd(was.id, thread); // held back: its copies counted as a stored one's (counted())
      placed(was.id);
      if (was.heard > heard) was.time = time; // begun by a later check (counters fallen): installed then
      if (!this.bound.full) return this.storeLate(tx, was, chassis); // installed now: stored as first seen then
      was.hurried = false;
      return this.gone.watch(was.id, f.ufid, f.at);
    }
    if (was) this.lose(was); // replaced before it was stored
    placed(this.begin(tx, f, time, heard, null, chassis, thread));
  }

  /**
   * `thread` logged lifetime `id`'s flow_add: a PMD's (`pmd-c01/id:7`) is a copy of the flow of that
   * PMD's own, NON_PMD the non-PMD table's (copyHolder). A stored lifetime's copies are written once
   * they are two or more (`tx`), so that a restart before its next check still knows them; while the
   * spool is full, once it has room (writeHeld), so that a restart before its next check knows them
   * then too.
   */
  private notePmd(id: number, thread: string | null, tx?: WriteContext): void {
    if (!thread || !this.copies.note(id, thread)) return;
    this.job?.noted.push({ id, thread });
    const text = this.copies.text(id);
    if (!tx || id < 0 || !text) return;
    if (this.bound.full) return void this.copiesHeld.add(id);
    // Counters a check held back while full count the copies' retired and last: written with them
    // now (there is room), so the row's JSON always adds up to its counters (vlogCopiesOf).
    const seen = this.held.get(id);
    if (seen) this.job?.wroteHeld.push({ held: new Map([[id, seen]]), copiesHeld: new Set() });
    this.held.delete(id);
    if (seen) this.flows.update(tx, id, { ...seen, pmdCopies: text });
    else this.flows.setPmdCopies(tx, id, text);
  }

  /** A check's counters as lifetime `id`'s (VlogPmdCopies.counted), from its newest: a check's held back, or the row's. */
  private counted(id: number, stored: Counts, f: Counts): Counts | null {
    const held = this.held.get(id);
    return this.copies.counted(id, held && held.packets >= stored.packets ? held : stored, f);
  }

  /** A new lifetime: stored, or held back while the spool is full (lifetime-spool-bound.ts); its id. */
  private begin(tx: WriteContext, f: InstalledFlow, time: string, heard: number, seen: Seen | null, chassis: string, thread: string | null = null): number {
    if (this.bound.full) {
      const u: Unstored = { id: this.nextUnstoredId--, flow: f, time, heard, seen, hurried: false, failedChecks: 0 };
      this.unstored.set(f.ufid, u);
      this.notePmd(u.id, thread);
      this.job?.heldBack.push(u);
      this.gone.watch(u.id, f.ufid, heardAt(f, seen));
      this.count('dropped_spool_full');
      return u.id;
    }
    return this.create(tx, f, time, heard, seen, chassis, thread);
  }

  private create(tx: WriteContext, f: InstalledFlow, firstSeen: string, heard: number, seen: Seen | null, chassis: string, thread: string | null = null): number {
    const id = this.flows.create(tx, {
      chassis,
      ufid: f.ufid,
      firstSeen,
      lastSeen: seen?.lastSeen ?? firstSeen,
      inPort: inPort(f.parsedKey) ?? null,
      recircId: recircIdHex(recircId(f.parsedKey)),
      key: f.key,
      actions: f.actions,
      packets: seen?.packets ?? 0,
      bytes: seen?.bytes ?? 0,
      used: seen?.used ?? null,
      source: 'vlog',
      heardAt: new Date(heard).toISOString(),
    });
    this.job?.made.add(id);
    this.notePmd(id, thread);
    this.gone.watch(id, f.ufid, heardAt(f, seen));
    return id;
  }

  /** A held-back lifetime found installed once there is room: stored with the time its log line gave. */
  private storeLate(tx: WriteContext, u: Unstored, chassis: string): void {
    this.unstored.delete(u.flow.ufid);
    const late: WriteJob['storedLate'][number] = { u, watch: this.gone.saved(u.id) };
    this.job?.storedLate.push(late); // before its INSERT, which may be what throws
    this.gone.forget(u.id);
    const id = (late.id = this.create(tx, u.flow, u.time, u.heard, u.seen, chassis));
    if (late.watch.userspace) this.gone.inUserspace(id);
    // Its PMDs' copies go on under the stored id (the next check may read the other copy).
    this.copies.move(u.id, id);
    const text = this.copies.text(id);
    if (text) this.flows.setPmdCopies(tx, id, text);
    this.count('stored_late');
  }

  /** A held-back lifetime that ended (or was replaced) before there was room: no row, so no end. */
  private lose(u: Unstored, outcome: 'lost_spool_full' | 'lost_unchecked' = 'lost_spool_full'): void {
    this.unstored.delete(u.flow.ufid);
    this.job?.lost.push({ u, watch: this.gone.saved(u.id), copies: this.copies.take(u.id) });
    this.gone.forget(u.id);
    this.count(outcome);
  }

  /**
   * `fn` counts what is being written: inside a write job (making), once it commits (WriteJob.counts),
   * so that a rolled-back run and its replay count once; outside one (a check that learnt nothing),
   * now. The one way into a job's counts: the spool bound's outcomes here, the source's upcalls.
   */
  afterCommit(fn: () => void): void {
    if (this.job) this.job.counts.push(fn);
    else fn();
  }

  private count(outcome: LifetimeWriteOutcome): void {
    this.afterCommit(() => this.bound.count(outcome));
  }

  /** Lifetimes held back now (the gauge livetrace_vlog_lifetimes_held_back). */
  get heldBack(): number {
    return this.unstored.size;
  }

  /**
   * A check of lifetime `id` learnt nothing: asked again later, but a held-back one no more than
   * MAX_FAILED_CHECKS times in a row (given up, lost_unchecked).
   */
  unknown(id: number, ufid: string): void {
    if (id < 0) {
      const u = this.unstored.get(ufid);
      // Lost or replaced while its check was in flight (take() had unwatched it): nothing to ask again.
      if (u?.id !== id) return;
      if (++u.failedChecks >= MAX_FAILED_CHECKS) return this.lose(u, 'lost_unchecked');
    }
    this.gone.again(id, ufid, Date.now()); // not if it ended while the check was in flight
  }

  /**
   * A check whose answer's write failed (rolled back; take() unwatched it until written): watched again
   * with what it knew (GoneChecks.rewatch) if still open as committed. One a flow_del ended while the
   * check was in flight was otherwise put back and, its answers unknown, asked for every max-idle for
   * good (again() finds it taken). A store that cannot be read either: taken as open.
   */
  unwritten(item: CheckedItem, now: number): void {
    const open = (): boolean => {
      try {
        return this.flows.isOpen(item.id, item.ufid);
      } catch {
        return true;
      }
    };
    if (item.id < 0 ? this.unstored.get(item.ufid)?.id === item.id : open()) this.gone.rewatch(item.id, item.ufid, now, item);
  }

  /**
   * Runs `write` (one write job's items), noting in `job` what it does that a rollback undoes
   * (rolledBack). Run again (the writer replays a job whose transaction failed), the run before was
   * rolled back: undone first, so the replay writes what that run took as written.
   */
  making(job: WriteJob, write: () => void): void {
    this.rolledBack(job);
    this.job = job;
    try {
      write();
    } finally {
      this.job = null;
    }
  }

  /** A failed job's rows were rolled back: what it did in memory too (vlog-write-job.ts undo). */
  rolledBack(job: WriteJob): void {
    undo(job, { unstored: this.unstored, held: this.held, copiesHeld: this.copiesHeld, copies: this.copies, gone: this.gone });
  }

  /** The end of a stored lifetime, full spool or not (with the counters it held back). */
  /** `heard`: when the end happened on the agent's clock (retention keeps what ended within QUIET_MS of it). */
  private end(tx: WriteContext, id: number, time: string, reason: string, heard: number): void {
    const seen = this.held.get(id);
    // Undone by a rollback: its watch and PMD copies, and the counters and copies it held (held again).
    this.job?.ended.push({ id, watch: this.gone.saved(id), copies: this.copies.take(id) });
    this.job?.wroteHeld.push({ held: new Map(seen ? [[id, seen]] : []), copiesHeld: new Set(this.copiesHeld.has(id) ? [id] : []) });
    if (seen) this.flows.update(tx, id, seen);
    this.held.delete(id);
    this.copies.delete(id);
    this.copiesHeld.delete(id);
    this.flows.close(tx, id, time, reason, new Date(heard).toISOString());
    this.gone.forget(id);
  }

  /**
   * Counters and PMD copies held back while the spool was full. The copies as they are now, not as
   * at the check that held the counters: a PMD noted after it (notePmd) would be written over with
   * the check's older JSON, NULL for one PMD, and a restart would not know it.
   */
  writeHeld(tx: WriteContext): void {
    if (this.bound.full) return;
    for (const [id, seen] of this.held) this.flows.update(tx, id, { ...seen, pmdCopies: this.copies.text(id) });
    for (const id of this.copiesHeld) if (!this.held.has(id)) this.flows.setPmdCopies(tx, id, this.copies.text(id));
    this.job?.wroteHeld.push({ held: new Map(this.held), copiesHeld: new Set(this.copiesHeld) });
    this.held.clear();
    this.copiesHeld.clear();
  }

  /** A check's answer, if the lifetime is still the open one of its UFID (a log line may have ended or replaced it since). */
  checked(tx: WriteContext, item: CheckedItem, chassis: string): void {
    if (item.id < 0) return this.writeCheckedUnstored(tx, item, chassis);
    const open = this.flows.openOf(tx, 'vlog', chassis, item.ufid);
    if (open?.id !== item.id) return;
    const time = shownAt(item.at, item.offset, { ...open, heard: open.heardAt === null ? null : Date.parse(open.heardAt) });
    if (item.result.state === 'gone') return this.end(tx, item.id, time, GONE_REASON, item.at);
    if (item.result.state !== 'present') return;
    const f = item.result.flow;
    this.copies.load(open);
    const counted = this.counted(item.id, open, f);
    const ended = endByCheck(counted, f, open.actions);
    const c = ended ? f : (counted ?? f); // a new lifetime: the copy's own counters
    const seen: Seen = { lastSeen: time, at: item.at, packets: c.packets, bytes: c.bytes, used: f.used, pmdCopies: ended ? null : this.copies.text(item.id) };
    if (ended) {
      this.end(tx, open.id, seen.lastSeen, ended, item.at);
      let parsedKey: InstalledFlow['parsedKey'];
      try {
        parsedKey = parseKey(open.key);
      } catch {
        return; // a key the log gave and we stored: read before, so not expected
      }
      return this.foundAnew(tx, { key: open.key, parsedKey }, item, f, seen, chassis);
    }
    this.gone.present(item.id, item.ufid, f, item.at, item.result.dp);
    if (!this.bound.full) {
      this.held.delete(item.id);
      this.copiesHeld.delete(item.id); // written with these counters
      return this.flows.update(tx, item.id, seen);
    }
    this.held.set(item.id, seen);
    this.count('deferred_spool_full');
  }

  /**
   * The flow a check found installed again or modified under the lifetime's UFID (counters fallen,
   * or other actions): a new lifetime first seen at the check, with the actions the check read (its
   * flow_add or flow_mod line dropped by the log's rate limit or not read yet). Its key stays the
   * one the log gave: the same UFID is the same key (a hash of it), and the log's verbose form is
   * the one every vlog lifetime stores and ofproto/trace takes (get-flow prints a terse one).
   */
  private foundAnew(tx: WriteContext, key: Pick<InstalledFlow, 'key' | 'parsedKey'>, item: CheckedItem, f: DumpedFlow, seen: Seen, chassis: string): void {
    this.begin(tx, { ufid: item.ufid, megaUfid: null, ...key, actions: actionsOf(f), at: item.at }, seen.lastSeen, item.at, seen, chassis);
  }

  /** A held-back lifetime's check: gone, it is lost; installed, stored if there is room, else checked again later. */
  private writeCheckedUnstored(tx: WriteContext, item: CheckedItem, chassis: string): void {
    const u = this.unstored.get(item.ufid);
    if (u?.id !== item.id) return; // replaced or ended since
    if (item.result.state === 'gone') return this.lose(u);
    if (item.result.state !== 'present') return;
    const f = item.result.flow;
    const lastSeen = shownAt(item.at, item.offset, { firstSeen: u.time, lastSeen: u.seen?.lastSeen, heard: u.heard });
    // Its copies counted as a stored lifetime's (two PMDs: a smaller reading is the other copy).
    const counted = this.counted(u.id, u.seen ?? { packets: 0, bytes: 0 }, f);
    // Other actions, or fewer packets than it held: modified, or ended unlogged and installed again, as
    // for a stored one (checked); ended before there was room, it is lost, and the flow found is a new
    // lifetime (held back in turn while full).
    if (!counted || actionsOf(f) !== u.flow.actions) {
      this.lose(u);
      return this.foundAnew(tx, u.flow, item, f, { lastSeen, at: item.at, packets: f.packets, bytes: f.bytes, used: f.used }, chassis);
    }
    u.failedChecks = 0;
    u.seen = { lastSeen, at: item.at, packets: counted.packets, bytes: counted.bytes, used: f.used };
    if (!this.bound.full) return this.storeLate(tx, u, chassis);
    u.hurried = false;
    this.gone.present(u.id, u.flow.ufid, f, item.at, item.result.dp);
  }
}
