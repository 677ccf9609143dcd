// Successive `dpctl/dump-flows -m` snapshots → datapath flow lifetimes. A UFID is the identity of
// an installed flow for one lifetime only: it is a hash of the key, so the same packet after the
// flow was deleted comes back with the same UFID, maybe other actions. Changed actions or falling
// counters therefore end a lifetime and start a new one, even when the UFID never left the dump.
// On the userspace datapath with several PMD threads each PMD that receives the flow's packets has a
// copy of its own (same UFID, own counters, deleted on its own by the revalidators: a ukey per UFID
// and PMD), listed once under each PMD's header: a lifetime is its UFID's copies together (see carry).
// Pure: no sockets, no clock (the caller passes `now`).
import type { DumpedFlow } from '../ovs/dump-flows';
import { formatActions, recircTargets } from '../ovs/odp-actions';
import { formatKey, inPort, recircId } from '../ovs/odp-key';
import { type Counts, pollerCopiesOf } from './pmd-copies-column';
import { type NatRewrites, RecircIndex } from './recirc-index';

export interface LiveFlow {
  ufid: string;
  /** Filled by the store once the lifetime has a row. */
  dbId?: number;
  firstSeen: string;
  lastSeen: string;
  inPort: string | null;
  recircId: number;
  key: string;
  actions: string;
  packets: number;
  bytes: number;
  used: string;
  /** recirc ids this flow's actions queue. */
  recircTargets: number[];
  flow: DumpedFlow;
  /**
   * The dump's thread header, as ofproto/detrace's `pmd=` wants it: the pmd's core id under
   * `flow-dump from pmd on cpu core: N`, NON_PMD_CORE_ID under `flow-dump from the main thread:`
   * (both the ukey's pmd id on the userspace datapath); null without a header (kernel datapath:
   * no pmd= needed); undefined until a dump showed the flow (lifetimes seeded from the store).
   */
  pmd?: number | null;
  /**
   * The counters of each copy the last dump listed, by pmd id ('' without a thread header); for a
   * lifetime seeded from the store, those it stored (pmd-copies-column.ts), else empty until a dump
   * showed it (only its total is known).
   */
  copies?: Map<string, Counts>;
  /** The counters of copies that left (idled out on their PMD) or were installed again while the lifetime went on. */
  retired?: Counts;
  /**
   * Seeded from the store with copies, not carried yet: the ovs-vswitchd process they are of
   * (pmd-copies-column.ts vswitchdInstance; null: not known). Another process's are not carried.
   */
  copiesOf?: string | null;
}

/** The main thread's pmd id on the userspace datapath (NON_PMD_CORE_ID = UINT32_MAX in dpif-netdev). */
export const NON_PMD_CORE_ID = 4294967295;

/** A dumped flow's pmd id for ofproto/detrace (see LiveFlow.pmd). */
export function pmdOf(d: DumpedFlow): number | null {
  if (!d.thread) return null;
  if (d.thread.pmdCore !== undefined) return d.thread.pmdCore;
  return d.thread.text === 'the main thread' ? NON_PMD_CORE_ID : null;
}

export type RemovalReason = 'gone' | 'actions_changed' | 'counters_reset' | 'vswitchd_restarted' | 'stopped' | 'out_of_scope';

export type FlowEvent =
  | { type: 'ukey_created'; flow: LiveFlow }
  | { type: 'ukey_updated'; flow: LiveFlow; packetsDelta: number }
  | { type: 'ukey_removed'; flow: LiveFlow; reason: RemovalReason; at: string };

export interface RecircLink {
  parent: LiveFlow;
  child: LiveFlow;
  recircId: number;
}

export interface DiffResult {
  events: FlowEvent[];
  /** Edges that involve at least one flow created in this cycle. */
  links: RecircLink[];
}

export class DatapathFlowTable {
  readonly live = new Map<string, LiveFlow>();
  private readonly recirc: RecircIndex<LiveFlow>;

  /** `rewrites`: what a bare ct(nat) can rewrite here (the OVN model's load balancers and NAT rows; recirc-index.ts). */
  constructor(rewrites?: NatRewrites) {
    this.recirc = new RecircIndex<LiveFlow>(rewrites);
  }

  /**
   * Applies one full dump. `scope`: the dump covered only flows entering on these ports
   * (dpctl/dump-flows filter=in_port=…); flows of other ports left it, they did not die. `unread`:
   * UFIDs of lines the parser refused: listed, so installed; their lifetimes stay as they were.
   */
  apply(dump: readonly DumpedFlow[], now: string, scope?: ReadonlySet<string>, instance: string | null = null, unread: ReadonlySet<string> = new Set()): DiffResult {
    const events: FlowEvent[] = [];
    const created: LiveFlow[] = [];
    const seen = new Map<string, DumpedFlow[]>();
    for (const d of dump) {
      if (!d.ufid) continue;
      const copies = seen.get(d.ufid);
      if (copies) copies.push(d);
      else seen.set(d.ufid, [d]);
    }
    for (const [ufid, copies] of seen) {
      const old = this.live.get(ufid);
      if (old) {
        const before = { packets: old.packets, bytes: old.bytes };
        const ended = this.carry(old, copies, instance);
        if (ended) {
          this.remove(old);
          events.push({ type: 'ukey_removed', flow: old, reason: ended, at: now });
        } else {
          if (old.packets !== before.packets || old.bytes !== before.bytes) {
            old.lastSeen = now;
            events.push({ type: 'ukey_updated', flow: old, packetsDelta: old.packets - before.packets });
          }
          continue;
        }
      }
      const f = this.add(copies, now);
      created.push(f);
      events.push({ type: 'ukey_created', flow: f });
    }
    for (const f of [...this.live.values()]) {
      if (!seen.has(f.ufid) && !unread.has(f.ufid)) {
        this.remove(f);
        const outside = scope !== undefined && !scope.has(f.inPort ?? '');
        events.push({ type: 'ukey_removed', flow: f, reason: outside ? 'out_of_scope' : 'gone', at: now });
      }
    }
    return { events, links: this.linksOf(created) };
  }

  /**
   * Lifetimes still open in the store when the service starts: the next dump continues them
   * (same UFID, same actions) or closes them, instead of leaving them open forever. `pmdCopies`:
   * its copies as stored (pmd-copies-column.ts), so that a copy that left before or after the
   * restart is not read as counters that fell; without them only the total is known.
   */
  seed(flow: DumpedFlow, stored: { dbId: number; firstSeen: string; lastSeen: string; pmdCopies?: string | null }): LiveFlow {
    const f = this.add([flow], stored.firstSeen);
    f.pmd = undefined; // not stored: known again from the next dump's header
    const copies = pollerCopiesOf(stored.pmdCopies, { packets: flow.packets, bytes: flow.bytes }); // the row's counters
    f.copies = copies?.copies ?? new Map();
    if (copies) {
      f.retired = copies.retired;
      f.copiesOf = copies.instance;
    }
    f.dbId = stored.dbId;
    f.lastSeen = stored.lastSeen;
    return f;
  }

  /** Ends every lifetime (ovs-vswitchd restarted, or the poller stops). */
  clear(reason: RemovalReason, now: string): FlowEvent[] {
    const events: FlowEvent[] = [...this.live.values()].map((flow) => ({ type: 'ukey_removed' as const, flow, reason, at: now }));
    this.live.clear();
    this.recirc.clear();
    return events;
  }

  /**
   * Flows that recirculate into this one: same in_port, a recirc(...) to its recirc id, and a
   * match that accepts this flow's packet (see recirc-index.ts).
   */
  parentsOf(f: LiveFlow): LiveFlow[] {
    return this.recirc.parentsOf(f);
  }

  childrenOf(f: LiveFlow): LiveFlow[] {
    return this.recirc.childrenOf(f);
  }

  private linksOf(created: LiveFlow[]): RecircLink[] {
    const links = new Map<string, RecircLink>();
    for (const f of created) {
      for (const p of this.parentsOf(f)) links.set(`${p.ufid}>${f.ufid}`, { parent: p, child: f, recircId: f.recircId });
      for (const c of this.childrenOf(f)) links.set(`${f.ufid}>${c.ufid}`, { parent: f, child: c, recircId: c.recircId });
    }
    return [...links.values()];
  }

  /**
   * A lifetime goes on while one of the copies the last dump listed goes on: same PMD, counters not
   * fallen, the lifetime's actions. Its counters are every copy's: those listed now, plus those of
   * copies that left or were installed again meanwhile (retired), so a copy idling out on one PMD
   * while another carries the packets never reads as counters that fell. With a single copy (kernel
   * datapath, one PMD) this is the copy's own counters, ending as before: actions changed, or fallen.
   */
  private carry(f: LiveFlow, dumped: DumpedFlow[], instance: string | null): 'actions_changed' | 'counters_reset' | null {
    if (f.copiesOf !== undefined) {
      // Seeded with the copies of an ovs-vswitchd that restarted while the service was down (a host
      // reboot): its flows came back with the same UFIDs, counted from zero, and a copy of the new
      // process at or above the old one's would carry the old lifetime on. The total alone, as
      // without the column. Either side unknown (no pidfile): the copies, as they are all there is.
      if (f.copiesOf !== null && instance !== null && f.copiesOf !== instance) {
        f.copies = new Map();
        f.retired = undefined;
      }
      f.copiesOf = undefined;
    }
    const same = dumped.filter((d) => actionsOf(d) === f.actions);
    if (!same.length) return 'actions_changed';
    // A copy with the lifetime's actions: another PMD's may already have other actions (the
    // revalidators update each copy on its own), and ofproto/detrace would read that copy's rules.
    f.pmd = pmdOf(same[0]);
    const prev = f.copies ?? new Map<string, Counts>();
    const next = copiesOf(same);
    const total = sum(next.values());
    if (prev.size === 0) {
      // Seeded from the store: only its total is known.
      if (total.packets < f.packets) return 'counters_reset';
    } else {
      const goesOn = [...next].some(([pmd, c]) => c.packets >= (prev.get(pmd)?.packets ?? Infinity));
      if (!goesOn) return 'counters_reset';
    }
    const retired = { ...(f.retired ?? { packets: 0, bytes: 0 }) };
    for (const [pmd, p] of prev) {
      const n = next.get(pmd);
      if (!n || n.packets < p.packets) {
        retired.packets += p.packets;
        retired.bytes += p.bytes;
      }
    }
    f.copies = next;
    f.retired = retired;
    const packets = retired.packets + total.packets;
    const bytes = retired.bytes + total.bytes;
    if (packets !== f.packets || bytes !== f.bytes) {
      f.packets = packets;
      f.bytes = bytes;
      f.used = freshest(same).used;
      f.flow = same[0];
    }
    return null;
  }

  private add(dumped: DumpedFlow[], now: string): LiveFlow {
    const d = dumped[0];
    const same = dumped.filter((c) => actionsOf(c) === actionsOf(d));
    const copies = copiesOf(same);
    const total = sum(copies.values());
    const f: LiveFlow = {
      ufid: d.ufid!,
      firstSeen: now,
      lastSeen: now,
      inPort: inPort(d.key) ?? null,
      recircId: recircId(d.key),
      key: d.keyText ?? formatKey(d.key, { masks: true }),
      actions: actionsOf(d),
      packets: total.packets,
      bytes: total.bytes,
      used: freshest(same).used,
      recircTargets: recircTargets(d.actions),
      flow: d,
      pmd: pmdOf(d),
      copies,
      retired: { packets: 0, bytes: 0 },
    };
    this.live.set(f.ufid, f);
    this.recirc.add(f);
    return f;
  }

  private remove(f: LiveFlow): void {
    this.live.delete(f.ufid);
    this.recirc.remove(f);
  }
}

/** Dumped text when the parser kept it (no objects built for the flows a cycle only compares); the vlog source's checks compare by it too (vlog-lifetimes.ts). */
export const actionsOf = (d: DumpedFlow): string => d.actionsText ?? formatActions(d.actions);

/** A UFID's copies by pmd id (the first line of a pmd, should a dump list one twice). */
function copiesOf(dumped: DumpedFlow[]): Map<string, Counts> {
  const out = new Map<string, Counts>();
  for (const d of dumped) {
    const pmd = String(pmdOf(d) ?? '');
    if (!out.has(pmd)) out.set(pmd, { packets: d.packets, bytes: d.bytes });
  }
  return out;
}

function sum(counts: Iterable<Counts>): Counts {
  const out = { packets: 0, bytes: 0 };
  for (const c of counts) {
    out.packets += c.packets;
    out.bytes += c.bytes;
  }
  return out;
}

/** The copy used last (`used:` seconds ago, `never` last). */
const freshest = (dumped: DumpedFlow[]): DumpedFlow =>
  dumped.reduce((a, b) => ((b.usedSeconds ?? Infinity) < (a.usedSeconds ?? Infinity) ? b : a));
