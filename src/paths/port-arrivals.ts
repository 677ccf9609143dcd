// `GET /traces?logical_port=`'s far passes of a port's packets (issue 19): a packet that a router
// sent on to another chassis arrives there with the router's port, not the sender's, as the Geneve
// ingress key, so the arrival's own ports never name the port the packet came from. The pass that
// sent it is in the port's list; its path across chassis (cross-chassis.ts, the one link) gives the
// passes on the other chassis, and those are listed right after their sender. With `chassis=` the
// sender is on another chassis and never in the page: the page reads the port's senders itself
// (onChassis, bounded). The stream finds them the other way, from each new tunnel arrival back to
// its sender (since; sinceIn per writer slot, where ids order commits).
import { Inject, Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { makeTraceCursor, type Page, type TracePosition } from '../common/query';
import { LIVETRACE_CONFIG } from '../config/config.module';
import type { LivetraceConfig } from '../config/config.schema';
import type { TraceListQuery } from '../traces/trace-read-store';
import type { SqlReader } from '../storage/sql';
import { StoreService } from '../storage/store.service';
import type { FarSince, IdRange, TraceJson } from '../traces';
import { TraceStreamService } from '../traces/trace-stream.service';
import { looksForFarPasses, TracesService } from '../traces/traces.service';
import { TraceStore } from '../traces/trace-store';
import { CrossChassisPaths } from './cross-chassis';
import { ReplicasService } from '../replicas/replicas.service';
import { PathBuilder } from './path-builder';
import { traceTimes, tunnelArrivals } from './port-arrival-store';

/**
 * Whether a page item may have a far pass the port's list lacks: it holds the port and tunnels
 * the packet into another logical datapath than the port's (routed on this chassis). A tunnel on
 * the port's own datapath carries the port's key as its ingress, and its arrival is in the list
 * by its own tunnel_in row.
 */
export function sendsAway(t: Pick<TraceJson, 'logicalPorts' | 'verdict'>, portName: string): boolean {
  const tunnels = t.verdict.tunnels ?? [];
  if (!tunnels.length) return false;
  const own = t.logicalPorts.filter((p) => p.name === portName && p.role !== 'tunnel_out');
  if (!own.length) return false;
  return tunnels.some((x) => x.datapath == null || own.every((p) => p.datapath === null || p.datapath !== x.datapath));
}

/**
 * The bound of one `?logical_port=&chassis=` page's look for senders (whose passes are on other
 * chassis, so never in that page): port rows read, and links followed. Past either, the page ends
 * where the look stopped, with a `next` cursor there (it may hold fewer items than `limit`, even
 * none); the next page goes on from it. A port with a long history of packets routed elsewhere
 * costs the client more pages, never one request the whole history.
 */
export interface SenderBound {
  rows: number;
  links: number;
}
export const SENDER_BOUND: SenderBound = { rows: 1000, links: 64 };
/** Senders read at once, and links followed side by side (PostgreSQL: round trips overlap). */
const ROWS_AT_ONCE = 200;
const LINKS_AT_ONCE = 8;

/**
 * How far apart the traces of a sender and its arrival may be stamped, beyond the skew window:
 * each agent traces a flow when its poller sees it (up to a poll period late) and its tracer
 * gets to it. It widens the `chassis=` page's time filters on senders and the stream's gate (a
 * link still needs the flows within the skew).
 */
const NEAR_SLACK_MS = 10_000;

/** Newest first is by time, then id (trace-read-store.ts's list). */
const comparePositions = (a: TracePosition, b: TracePosition): number => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id - b.id);
const positionOf = (t: TraceJson): TracePosition => ({ at: t.createdAt, id: t.id });

const shift = (iso: string | undefined, ms: number): string | undefined => (iso === undefined ? undefined : new Date(Date.parse(iso) + ms).toISOString());

/** `inSession`: of the traces looked at, those of `q`'s session (TraceStore.ofSession), when it names one. */
function meets(t: TraceJson, q: TraceListQuery, inSession?: ReadonlySet<number>): boolean {
  if (q.verdict && !t.verdict.kinds.includes(q.verdict as never)) return false;
  if (q.since && t.createdAt < q.since) return false;
  if (q.until && t.createdAt > q.until) return false;
  if (q.chassis && t.chassis !== q.chassis) return false;
  if (q.sessionId && !inSession?.has(t.id)) return false;
  return true;
}

@Injectable()
export class PortArrivals implements OnModuleInit {
  constructor(
    private readonly traces: TracesService,
    private readonly store: TraceStore,
    private readonly builder: PathBuilder,
    private readonly crossChassis: CrossChassisPaths,
    @Optional() @Inject(LIVETRACE_CONFIG) private readonly config?: Pick<LivetraceConfig, 'LIVETRACE_TUNNEL_SKEW_MS'>,
    @Optional() @Inject(StoreService) private readonly storage?: { readonly query: SqlReader },
    @Optional() private readonly streams?: TraceStreamService,
    @Optional() @Inject(ReplicasService) private readonly replicas?: { readonly sb: Pick<ReplicasService['sb'], 'find'> },
  ) {}

  /**
   * Whether `t`'s packet cannot reach `chassis` (no link needed to know): each of its tunnels goes
   * to another known chassis and to a VIF there (Port_Binding type ''). A receiving chassis only
   * delivers to a VIF; it sends a packet on through another tunnel only for a gateway port
   * (chassisredirect, l3gateway), so a tunnel to one of those, or to a port or chassis the
   * southbound does not name, is followed.
   */
  private cannotReach(t: TraceJson, chassis: string): boolean {
    const tunnels = t.verdict.tunnels ?? [];
    if (!this.replicas || !tunnels.length) return false;
    return tunnels.every((x) => {
      if (!x.chassis || x.chassis === chassis || !x.outport) return false;
      const pb = this.replicas!.sb.find('Port_Binding', 'logical_port', x.outport)[0];
      return pb !== undefined && String(pb.type ?? '') === '';
    });
  }

  /** Tests lower it; the service runs on SENDER_BOUND. */
  static bound: SenderBound = SENDER_BOUND;
  /** Links one look of the stream follows at most (one a path); the arrivals past it are retried. */
  static streamLinks = 64;

  onModuleInit(): void {
    this.traces.useFarPasses((page, q) => this.page(page, q));
    this.streams?.useFarPasses((q, ranges, retry, limit, near) => this.sinceIn(q, ranges, retry, limit, near));
  }

  /** A port's page with its far passes: after their sender, or with `chassis`, the asked chassis's merged in. */
  async page(page: Page<TraceJson>, q: TraceListQuery): Promise<Page<TraceJson>> {
    if (!looksForFarPasses(q)) return page;
    if (q.chassis) return this.onChassis(page, q);
    return { ...page, items: await this.withFarPasses(page.items, q) };
  }

  /**
   * `?logical_port=lsp1&chassis=hv3`: hv3's own rows of the port (`own`, the page as the query
   * gave it) and hv3's far passes of the port's packets, whose senders (on other chassis) the
   * query never reads. The senders are read here, the port's rows on any chassis (those with a
   * tunnel are senders) newest first from the cursor (the time filters widened by the skew window and NEAR_SLACK_MS: an
   * arrival is traced up to that much later or earlier), and each far pass sits where its sender would, so
   * one cursor (a position, time and id: "below this") pages both: a far pass's place is its sender's.
   * Bounded by SENDER_BOUND.
   */
  private async onChassis(own: Page<TraceJson>, q: TraceListQuery): Promise<Page<TraceJson>> {
    const portName = q.portName!;
    const skew = (this.config?.LIVETRACE_TUNNEL_SKEW_MS ?? 1000) + NEAR_SLACK_MS;
    const listed = new Set(own.items.map((t) => t.id));
    const far: Array<{ key: TracePosition; items: TraceJson[] }> = [];
    const walkedPaths = new Set<number>();
    // Every port row from `frontier` (inclusive) up to the cursor has been looked at; none yet: the
    // cursor's position (an old `id:` cursor is placed by the list itself, on the first look).
    let frontier: TracePosition | undefined = q.before;
    let done = false;
    let rows = 0;
    let links = 0;
    const { rows: maxRows, links: maxLinks } = PortArrivals.bound;
    const placed = () => far.length + (frontier ? own.items.filter((t) => comparePositions(positionOf(t), frontier!) >= 0).length : 0);
    scan: while (!done && placed() < q.limit && rows < maxRows && links < maxLinks) {
      const batch = await this.store.list({
        // No verdict filter here: the walk stays the port's index from the cursor, at most maxRows rows a page.
        portName, role: q.role, since: shift(q.since, -skew), until: shift(q.until, skew),
        before: frontier, cursor: frontier ? undefined : q.cursor, limit: Math.min(ROWS_AT_ONCE, maxRows - rows), withSteps: false,
      });
      rows += batch.items.length;
      let i = 0;
      while (i < batch.items.length) {
        if (placed() >= q.limit || links >= maxLinks) break scan;
        // The next senders in order, up to LINKS_AT_ONCE links; the rows between them are only looked at.
        const group: TraceJson[] = [];
        let end = i;
        while (end < batch.items.length && group.length < Math.min(LINKS_AT_ONCE, maxLinks - links)) {
          const t = batch.items[end++];
          if (t.chassis === q.chassis || !sendsAway(t, portName) || this.cannotReach(t, q.chassis!)) continue;
          if (t.pathId !== null && walkedPaths.has(t.pathId)) continue;
          if (t.pathId !== null) walkedPaths.add(t.pathId);
          group.push(t);
        }
        links += group.length;
        const found = await Promise.all(group.map((t) => this.farPasses(t, q.withSteps)));
        const ofSession = await this.sessionOf(q, found.flat());
        group.forEach((t, k) => {
          const mine = found[k].filter((f) => !listed.has(f.id) && !f.logicalPorts.some((p) => p.name === portName) && meets(f, q, ofSession));
          mine.forEach((f) => listed.add(f.id));
          if (mine.length) far.push({ key: positionOf(t), items: mine.map((f) => ({ ...f, arrivedFrom: { traceId: t.id, chassis: t.chassis } })) });
        });
        frontier = positionOf(batch.items[end - 1]);
        i = end;
      }
      if (!batch.next) done = true;
    }
    // Complete above `floor`: the senders' look (unless it reached the end) and the own rows (unless more follow).
    const lastOwn = own.items[own.items.length - 1];
    const floors = [done ? undefined : frontier, own.next && lastOwn ? positionOf(lastOwn) : undefined].filter((p): p is TracePosition => p !== undefined);
    const floor = floors.sort(comparePositions)[floors.length - 1];
    const entries = [...own.items.map((t) => ({ key: positionOf(t), items: [t] })), ...far]
      .filter((e) => !floor || comparePositions(e.key, floor) >= 0)
      .sort((a, b) => comparePositions(b.key, a.key));
    const taken = entries.slice(0, q.limit);
    const next = entries.length > q.limit ? taken[taken.length - 1].key : floor;
    return { items: taken.flatMap((e) => e.items), next: next ? makeTraceCursor(next) : null };
  }

  /** The page with each sender's far passes after it (marked `arrivedFrom`), once each. */
  async withFarPasses(items: TraceJson[], q: TraceListQuery): Promise<TraceJson[]> {
    if (!looksForFarPasses(q)) return items;
    const portName = q.portName!;
    // One walk a path (a sender's passes share it); the walks at once: on PostgreSQL each is a
    // few round trips, and the pool runs them side by side.
    const walked = new Set<number>();
    const senders = items.filter((t) => {
      if (!sendsAway(t, portName)) return false;
      if (t.pathId === null) return true;
      if (walked.has(t.pathId)) return false;
      walked.add(t.pathId);
      return true;
    });
    const farOf = new Map<number, TraceJson[]>();
    await Promise.all(senders.map(async (t) => farOf.set(t.id, await this.farPasses(t, q.withSteps))));
    const ofSession = await this.sessionOf(q, [...farOf.values()].flat());
    const listed = new Set(items.map((t) => t.id));
    const out: TraceJson[] = [];
    for (const t of items) {
      out.push(t);
      for (const f of farOf.get(t.id) ?? []) {
        if (listed.has(f.id)) continue;
        listed.add(f.id);
        // A pass naming the port itself is listed on its own, where its id puts it.
        if (f.logicalPorts.some((p) => p.name === portName) || !meets(f, q, ofSession)) continue;
        out.push({ ...f, arrivedFrom: { traceId: t.id, chassis: t.chassis } });
      }
    }
    return out;
  }

  /**
   * The stream's far passes (trace-stream.service.ts): among the traces stored after `afterId`,
   * only tunnel arrivals whose Geneve ingress is not the port can be one (a routed packet arrives
   * with the router's port as its ingress; one with the port's own key names it and is the
   * stream's own row), so only they cost a link, at most `limit` of them a call, and one link a
   * path (an arrival's recirculations share it). Each is linked back to its sender by the one
   * cross-chassis link; a far pass is one whose sender, on another chassis, holds the port and sent
   * the packet away (sendsAway). An arrival whose sender is not stored yet is returned as unlinked.
   * `near` (the stream's): the trace times of the port's recent passes that tunnelled; an arrival
   * traced far from all of them costs no link (unlinked: a sender may still come).
   */
  async since(q: TraceListQuery, afterId: number, retry: readonly number[], limit: number, near?: readonly number[]): Promise<Omit<FarSince, 'scannedTo' | 'complete'> & { scannedTo: number; complete: boolean }> {
    const r = await this.sinceIn(q, [{ after: afterId, below: Number.MAX_SAFE_INTEGER }], retry, limit, near);
    return { ...r, scannedTo: r.scannedTo[0], complete: r.complete[0] };
  }

  /**
   * `since` in id ranges, one a writer slot (the stream's: ids order commits only within a slot,
   * so "after an id" is per slot), each read by the primary key from its `after`, `limit` shared
   * between them (a busy slot cannot starve the others); `scannedTo` and `complete` per range (a
   * range's read short of its share reached its end; one of exactly its share may not have).
   */
  async sinceIn(q: TraceListQuery, ranges: readonly IdRange[], retry: readonly number[], limit: number, near?: readonly number[]): Promise<FarSince> {
    const portName = q.portName!;
    const share = Math.max(1, Math.ceil(limit / Math.max(1, ranges.length)));
    const db = this.storage?.query;
    const read = db ? await Promise.all(ranges.map((r) => tunnelArrivals(db, q, r.after, r.below, share))) : ranges.map(() => []);
    const scannedTo = read.map((rows, k) => (rows.length ? Number(rows[rows.length - 1].id) : ranges[k].after));
    const complete = read.map((rows) => rows.length < share);
    const fresh = read.flat();
    const again = retry.length && db ? await traceTimes(db, retry) : [];
    const seen = new Map([...again, ...fresh].map((r) => [Number(r.id), Date.parse(r.created_at)]));
    const ids = [...seen.keys()].sort((a, b) => a - b);
    const decided = new Map<number, { sender: TraceJson; far: Map<number, TraceJson> } | 'unlinked' | null>();
    const items: TraceJson[] = [];
    const unlinked: number[] = [];
    const window = (this.config?.LIVETRACE_TUNNEL_SKEW_MS ?? 1000) + NEAR_SLACK_MS;
    let links = 0;
    // The session is asked of the passes kept, at once, after the loop.
    const unlessSession = { ...q, sessionId: undefined };
    for (const id of ids) {
      // No pass of the port that tunnelled was traced near this arrival's time: no link, perhaps later.
      if (near && !near.some((at) => Math.abs(at - seen.get(id)!) <= window)) {
        unlinked.push(id);
        continue;
      }
      if (!decided.has(id)) {
        // Past the look's links the rest wait for the next look (retried, as for a sender to come).
        if (links >= PortArrivals.streamLinks) {
          unlinked.push(id);
          continue;
        }
        links++;
        await this.linkBack(id, portName, decided);
      }
      const link = decided.get(id);
      if (link === 'unlinked') unlinked.push(id);
      const f = link && link !== 'unlinked' ? link.far.get(id) : undefined;
      if (link && link !== 'unlinked' && f && !f.logicalPorts.some((p) => p.name === portName) && meets(f, unlessSession))
        items.push({ ...f, arrivedFrom: { traceId: link.sender.id, chassis: link.sender.chassis } });
    }
    const ofSession = await this.sessionOf(q, items);
    return { items: q.sessionId ? items.filter((f) => ofSession!.has(f.id)) : items, scannedTo, complete, unlinked };
  }

  /** With a session filter, which of these traces belong to it (meets' `inSession`). */
  private async sessionOf(q: TraceListQuery, ts: readonly TraceJson[]): Promise<Set<number> | undefined> {
    return q.sessionId ? this.store.ofSession([...new Set(ts.map((t) => t.id))], q.sessionId) : undefined;
  }

  /** Decides, for every pass of `id`'s path on its chassis, which port's sender (if any) sent it there. */
  private async linkBack(id: number, portName: string, decided: Map<number, { sender: TraceJson; far: Map<number, TraceJson> } | 'unlinked' | null>): Promise<void> {
    decided.set(id, null);
    const built = await this.builder.ofTrace(id);
    if (!built) return;
    const across = await this.crossChassis.extend(built, (x) => this.builder.ofTrace(x));
    const at = across ? across.segments.findIndex((s) => s.built.passes.some((p) => p.id === id)) : 0;
    if (!across || at <= 0) {
      for (const p of built.passes) decided.set(p.id, 'unlinked');
      return;
    }
    const before = across.segments.slice(0, at);
    const senders = (await this.store.fromRows(before.flatMap((s) => s.built.passes), false)).filter((t) => sendsAway(t, portName));
    const sender = senders.sort((a, b) => b.id - a.id)[0];
    if (!sender) {
      for (const s of across.segments) for (const p of s.built.passes) decided.set(p.id, null);
      return;
    }
    const from = across.segments.findIndex((s) => s.built.passes.some((p) => p.id === sender.id));
    const farRows = across.segments.slice(from + 1).filter((s) => s.chassis !== sender.chassis).flatMap((s) => s.built.passes);
    const far = new Map((await this.store.fromRows(farRows, false)).map((t) => [t.id, t]));
    const link = { sender, far };
    for (const p of farRows) decided.set(p.id, link);
    for (const p of built.passes) if (!decided.has(p.id)) decided.set(p.id, null);
  }

  /** The passes of `t`'s packet on other chassis, by the one cross-chassis link. */
  private async farPasses(t: TraceJson, withSteps: boolean): Promise<TraceJson[]> {
    const built = await this.builder.ofTrace(t.id);
    if (!built) return [];
    const across = await this.crossChassis.extend(built, (id) => this.builder.ofTrace(id));
    if (!across) return [];
    const far = across.segments.filter((s) => s.chassis !== t.chassis).flatMap((s) => s.built.passes);
    return far.length ? this.store.fromRows(far, withSteps) : [];
  }
}
