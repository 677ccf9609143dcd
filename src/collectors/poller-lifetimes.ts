// The poller's datapath flow lifetimes written to the store (datapath-flow-store.ts): each cycle's
// events (a flow begun, its counters moved, its end) and recirculation edges, in writer jobs of
// CHUNK, under the spool's bound (lifetime-spool-bound.ts: while it is full a new lifetime is held
// back and counters are deferred, stored late once it has room if the flow is still installed) and
// through failed writes (poller-unwritten.ts: what a failed job held is written by the next). The
// dump and its diff into events are poller.service.ts's.
import { Logger } from '@nestjs/common';
import { DatapathFlowStore, type SeenCounters } from '../datapath-flows/datapath-flow-store';
import { recircIdHex } from '../ovs/ids';
import type { StoreService } from '../storage/store.service';
import type { WriteContext } from '../storage/writer';
import type { DatapathFlowTable, FlowEvent, LiveFlow, RecircLink } from './datapath-diff';
import type { LifetimeSpoolBound } from './lifetime-spool-bound';
import { pollerCopiesText } from './pmd-copies-column';
import { MAX_UNWRITTEN, PollerUnwritten } from './poller-unwritten';

const CHUNK = 1000;

export class PollerLifetimes {
  private readonly log = new Logger('Poller');
  /** Flows whose lifetime was not stored, the spool being full: stored once it has room, if still installed. */
  private readonly unstored = new Set<LiveFlow>();
  /** Stored lifetimes whose counters moved while the spool was full: written once it has room, or with their end. */
  private readonly stale = new Set<LiveFlow>();
  /** What a failed write held, written by the next persist (poller-unwritten.ts). */
  private readonly unwritten = new PollerUnwritten();

  constructor(
    private readonly store: Pick<StoreService, 'writer'>,
    private readonly flows: DatapathFlowStore,
    /** The spool's bound, the one policy the vlog source's lifetimes follow too. */
    private readonly bound: LifetimeSpoolBound,
    /** The poller's diff: which flows are installed now, and their recirculation parents and children. */
    private readonly table: DatapathFlowTable,
    /** The ovs-vswitchd that answered the dumps (pmd-copies-column.ts vswitchdInstance). */
    private readonly instance: () => string | null,
  ) {}

  async persist(events: FlowEvent[], links: RecircLink[], chassis: string): Promise<void> {
    const jobs: Array<Promise<unknown>> = [];
    const u = this.unwritten;
    // Each job's failure puts back what it held, for the next persist (poller-unwritten.ts).
    const submit = (job: (tx: WriteContext) => void, failed: () => void, done?: () => void) =>
      jobs.push(this.store.writer.submit(job).then(done, (err: unknown) => (failed(), Promise.reject(err))));
    // The ends a failed write held first (a lifetime begun and ended while writes failed is stored with its end).
    if (u.ends.size) {
      const ends = [...u.ends];
      u.ends.clear();
      submit(
        (tx) => ends.forEach(([f, e]) => this.end(tx, f, e.at, e.reason, chassis)),
        () => ends.forEach(([f, e]) => u.failed({ type: 'ukey_removed', flow: f, ...e } as FlowEvent, this.stale)),
        () => ends.forEach(([f]) => u.written(f)),
      );
    }
    // Then what the spool held back while full (or a failed write), if it has room now (before this
    // cycle's events: they may update it). A flow no longer installed had its end in an event: counted lost there.
    if ((this.unstored.size || this.stale.size || u.begun.size) && !this.bound.full) {
      const live = (f: LiveFlow) => this.table.live.get(f.ufid) === f;
      const late = [...this.unstored, ...u.begun].filter(live);
      const stale = [...this.stale].filter(live);
      const spooled = late.filter((f) => this.unstored.delete(f)).length;
      for (const f of late) u.written(f);
      for (const f of stale) this.stale.delete(f);
      // In jobs of CHUNK flows, as the events: a long spell full may leave every installed flow.
      for (let i = 0; i < Math.max(late.length, stale.length); i += CHUNK) {
        const [l, st] = [late.slice(i, i + CHUNK), stale.slice(i, i + CHUNK)];
        submit(
          (tx) => this.catchUp(tx, l, st, chassis, i === 0 ? spooled : 0),
          () => (l.forEach((flow) => u.failed({ type: 'ukey_created', flow }, this.stale)), st.forEach((f) => this.stale.add(f))),
        );
      }
    }
    for (let i = 0; i < events.length; i += CHUNK) {
      const chunk = events.slice(i, i + CHUNK);
      submit(
        (tx) => chunk.forEach((e) => this.write(tx, e, chassis)),
        () => chunk.forEach((e) => !this.unstored.has(e.flow) && u.failed(e, this.stale)),
        () => chunk.forEach((e) => e.type === 'ukey_removed' && u.written(e.flow)),
      );
    }
    const edges = [...u.links.splice(0), ...links];
    if (edges.length) submit((tx) => edges.forEach((l) => this.link(tx, l)), () => u.linksFailed(edges));
    // Every job settled (and each failed one's put back) before the cycle says it failed.
    const failed = (await Promise.allSettled(jobs)).find((r) => r.status === 'rejected');
    const lost = u.takeGivenUp();
    if (lost) this.log.warn(`gave up ${lost} datapath flow ends and recirculation edges whose writes kept failing (over ${MAX_UNWRITTEN} waiting)`);
    if (failed) throw failed.reason;
  }

  /** A lifetime's end, with its last counters; one a failed write never stored is stored first. */
  private end(tx: WriteContext, f: LiveFlow, at: string, reason: string, chassis: string): void {
    if (this.unwritten.begun.has(f)) this.create(tx, f, chassis);
    else this.flows.update(tx, f.dbId!, this.seenOf(f));
    this.flows.close(tx, f.dbId!, at, reason);
  }

  private write(tx: WriteContext, e: FlowEvent, chassis: string): void {
    const f = e.flow;
    if (e.type === 'ukey_created') {
      if (this.bound.full) {
        this.unstored.add(f);
        this.bound.count('dropped_spool_full');
      } else this.create(tx, f, chassis);
    } else if (e.type === 'ukey_updated' && f.dbId) {
      if (this.bound.full) {
        this.stale.add(f);
        this.bound.count('deferred_spool_full');
      } else {
        this.stale.delete(f);
        this.flows.update(tx, f.dbId, this.seenOf(f));
      }
    } else if (e.type === 'ukey_removed' && this.unwritten.begun.has(f)) {
      // Began while writes failed: stored with its end (first, its dbId may be of a run rolled back).
      this.end(tx, f, e.at, e.reason, chassis);
    } else if (e.type === 'ukey_removed' && f.dbId) {
      // Its last counters with its end, if the spool (or a failed write) held them back.
      if (this.stale.delete(f)) this.flows.update(tx, f.dbId, this.seenOf(f));
      this.flows.close(tx, f.dbId, e.at, e.reason);
    } else if (e.type === 'ukey_removed' && this.unstored.delete(f)) {
      // Began and ended while the spool was full: never stored, so no end either.
      this.bound.count('lost_spool_full');
    }
  }

  private create(tx: WriteContext, f: LiveFlow, chassis: string): void {
    f.dbId = this.flows.create(tx, {
      chassis,
      ufid: f.ufid,
      firstSeen: f.firstSeen,
      lastSeen: f.lastSeen,
      inPort: f.inPort,
      recircId: recircIdHex(f.recircId),
      key: f.key,
      actions: f.actions,
      packets: f.packets,
      bytes: f.bytes,
      used: f.used,
      source: 'poller',
      pmdCopies: this.copiesText(f),
    });
  }

  /** A lifetime's counters as stored, with its copies' (a restart goes on from them: the poller's seedFromStore). */
  private seenOf(f: LiveFlow): SeenCounters {
    return { lastSeen: f.lastSeen, packets: f.packets, bytes: f.bytes, used: f.used, pmdCopies: this.copiesText(f) };
  }

  /** Its copies, of the ovs-vswitchd that answered the dumps (the one dumped: the poller's runCycle drops another's). */
  private copiesText(f: LiveFlow): string | null {
    return pollerCopiesText(f.copies, f.retired, this.instance());
  }

  /**
   * Lifetimes the full spool held back, still installed: stored as they are now (first seen when
   * they were), with their recirculation edges to stored lifetimes (an edge to one of a later job
   * is written by that job, from its side); counters held back, written.
   */
  private catchUp(tx: WriteContext, late: LiveFlow[], stale: LiveFlow[], chassis: string, spooled: number): void {
    for (const f of late) this.create(tx, f, chassis);
    for (const f of late) {
      for (const p of this.table.parentsOf(f)) this.link(tx, { parent: p, child: f, recircId: f.recircId });
      for (const c of this.table.childrenOf(f)) this.link(tx, { parent: f, child: c, recircId: c.recircId });
    }
    for (const f of stale) if (f.dbId) this.flows.update(tx, f.dbId, this.seenOf(f));
    this.bound.count('stored_late', spooled);
  }

  private link(tx: WriteContext, l: RecircLink): void {
    if (!l.parent.dbId || !l.child.dbId) return;
    this.flows.link(tx, l.parent.dbId, l.child.dbId, recircIdHex(l.recircId));
  }
}
