// Successive `dpctl/dump-flows -m` snapshots → datapath flow lifetimes. A UFID is the identity of
// an installed flow for one lifetime only: it is a hash of the key, so the same packet after the
// flow was deleted comes back with the same UFID, maybe other actions. Changed actions or falling
// counters therefore end a lifetime and start a new one, even when the UFID never left the dump.
// Pure: no sockets, no clock (the caller passes `now`).
import type { DumpedFlow } from '../ovs/dump-flows';
import { formatActions, recircTargets } from '../ovs/odp-actions';
import { formatKey, inPort, recircId } from '../ovs/odp-key';
import { RecircIndex } from './recirc-index';

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
  private readonly recirc = new RecircIndex<LiveFlow>();

  /**
   * Applies one full dump. `scope`: the dump covered only flows entering on these ports
   * (dpctl/dump-flows filter=in_port=…); flows of other ports left it, they did not die.
   */
  apply(dump: readonly DumpedFlow[], now: string, scope?: ReadonlySet<string>): DiffResult {
    const events: FlowEvent[] = [];
    const created: LiveFlow[] = [];
    const seen = new Set<string>();
    for (const d of dump) {
      if (!d.ufid || seen.has(d.ufid)) continue;
      seen.add(d.ufid);
      const old = this.live.get(d.ufid);
      if (old) {
        old.pmd = pmdOf(d);
        const actions = actionsOf(d);
        if (actions !== old.actions || d.packets < old.packets) {
          this.remove(old);
          events.push({ type: 'ukey_removed', flow: old, reason: actions !== old.actions ? 'actions_changed' : 'counters_reset', at: now });
        } else {
          if (d.packets !== old.packets || d.bytes !== old.bytes) {
            const delta = d.packets - old.packets;
            old.packets = d.packets;
            old.bytes = d.bytes;
            old.used = d.used;
            old.lastSeen = now;
            old.flow = d;
            events.push({ type: 'ukey_updated', flow: old, packetsDelta: delta });
          }
          continue;
        }
      }
      const f = this.add(d, now);
      created.push(f);
      events.push({ type: 'ukey_created', flow: f });
    }
    for (const f of [...this.live.values()]) {
      if (!seen.has(f.ufid)) {
        this.remove(f);
        const outside = scope !== undefined && !scope.has(f.inPort ?? '');
        events.push({ type: 'ukey_removed', flow: f, reason: outside ? 'out_of_scope' : 'gone', at: now });
      }
    }
    return { events, links: this.linksOf(created) };
  }

  /**
   * Lifetimes still open in the store when the service starts: the next dump continues them
   * (same UFID, same actions) or closes them, instead of leaving them open forever.
   */
  seed(flow: DumpedFlow, stored: { dbId: number; firstSeen: string; lastSeen: string }): LiveFlow {
    const f = this.add(flow, stored.firstSeen);
    f.pmd = undefined; // not stored: known again from the next dump's header
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

  private add(d: DumpedFlow, now: string): LiveFlow {
    const f: LiveFlow = {
      ufid: d.ufid!,
      firstSeen: now,
      lastSeen: now,
      inPort: inPort(d.key) ?? null,
      recircId: recircId(d.key),
      key: d.keyText ?? formatKey(d.key, { masks: true }),
      actions: actionsOf(d),
      packets: d.packets,
      bytes: d.bytes,
      used: d.used,
      recircTargets: recircTargets(d.actions),
      flow: d,
      pmd: pmdOf(d),
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

/** Dumped text when the parser kept it (no objects built for the flows a cycle only compares). */
const actionsOf = (d: DumpedFlow): string => d.actionsText ?? formatActions(d.actions);
