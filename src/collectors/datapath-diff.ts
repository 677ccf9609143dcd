// Successive `dpctl/dump-flows -m` snapshots → datapath flow lifetimes. A UFID is the identity of
// an installed flow for one lifetime only: it is a hash of the key, so the same packet after the
// flow was deleted comes back with the same UFID, maybe other actions. Changed actions or falling
// counters therefore end a lifetime and start a new one, even when the UFID never left the dump.
// Pure: no sockets, no clock (the caller passes `now`).
import type { DumpedFlow } from '../ovs/dump-flows';
import { formatActions, recircTargets } from '../ovs/odp-actions';
import { formatKey, inPort, keyValue, recircId } from '../ovs/odp-key';

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
  /** Cached packet shape (eth_type, proto, MACs) for recirculation matching. */
  shape?: PacketShape;
}

export type RemovalReason = 'gone' | 'actions_changed' | 'counters_reset' | 'vswitchd_restarted' | 'stopped';

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

const slot = (inPort: string | null, recirc: number) => `${inPort}\u0000${recirc}`;

export class DatapathFlowTable {
  readonly live = new Map<string, LiveFlow>();
  /** (in_port, recirc_id) → flows running with that recirc id. */
  private readonly byRecirc = new Map<string, Set<LiveFlow>>();
  /** (in_port, recirc target) → flows that recirculate into it. */
  private readonly byTarget = new Map<string, Set<LiveFlow>>();

  /** Applies one full dump. */
  apply(dump: readonly DumpedFlow[], now: string): DiffResult {
    const events: FlowEvent[] = [];
    const created: LiveFlow[] = [];
    const seen = new Set<string>();
    for (const d of dump) {
      if (!d.ufid || seen.has(d.ufid)) continue;
      seen.add(d.ufid);
      const old = this.live.get(d.ufid);
      if (old) {
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
        events.push({ type: 'ukey_removed', flow: f, reason: 'gone', at: now });
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
    f.dbId = stored.dbId;
    f.lastSeen = stored.lastSeen;
    return f;
  }

  /** Ends every lifetime (ovs-vswitchd restarted, or the poller stops). */
  clear(reason: RemovalReason, now: string): FlowEvent[] {
    const events: FlowEvent[] = [...this.live.values()].map((flow) => ({ type: 'ukey_removed' as const, flow, reason, at: now }));
    this.live.clear();
    this.byRecirc.clear();
    this.byTarget.clear();
    return events;
  }

  /**
   * Flows that recirculate into this one. Different packets share a recirculation id when their
   * frozen state is the same (an ICMP echo and a DNS query both leave pass 0 as
   * `ct(zone=1),recirc(0x1)`), so a parent must also fit: same eth_type, ip proto and the
   * Ethernet addresses it sent (IPs and ports are not compared: conntrack NAT changes them).
   */
  parentsOf(f: LiveFlow): LiveFlow[] {
    if (f.recircId === 0) return [];
    return [...(this.byTarget.get(slot(f.inPort, f.recircId)) ?? [])].filter((p) => fits(p, f));
  }

  childrenOf(f: LiveFlow): LiveFlow[] {
    return f.recircTargets.flatMap((t) => [...(this.byRecirc.get(slot(f.inPort, t)) ?? [])]).filter((c) => fits(f, c));
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
    };
    this.live.set(f.ufid, f);
    addTo(this.byRecirc, slot(f.inPort, f.recircId), f);
    for (const t of f.recircTargets) addTo(this.byTarget, slot(f.inPort, t), f);
    return f;
  }

  private remove(f: LiveFlow): void {
    this.live.delete(f.ufid);
    this.byRecirc.get(slot(f.inPort, f.recircId))?.delete(f);
    for (const t of f.recircTargets) this.byTarget.get(slot(f.inPort, t))?.delete(f);
  }
}

interface PacketShape {
  ethType?: string;
  proto?: string;
  ethSrc?: string;
  ethDst?: string;
}

const bare = (v: string | undefined) => v?.split('/')[0];

function shapeOf(f: LiveFlow): PacketShape {
  if (!f.shape) {
    const k = f.flow.key;
    f.shape = {
      ethType: bare(keyValue(k, 'eth_type')),
      proto: bare(keyValue(k, 'ipv4', 'proto') ?? keyValue(k, 'ipv6', 'proto')),
      ethSrc: bare(keyValue(k, 'eth', 'src')),
      ethDst: bare(keyValue(k, 'eth', 'dst')),
    };
  }
  return f.shape;
}

/** The packet the parent hands to recirculation: its own, with any set(eth(...)) applied. */
function sentShape(parent: LiveFlow): PacketShape {
  const out = { ...shapeOf(parent) };
  for (const a of parent.flow.actions) {
    if (a.type === 'set' && a.field.kind === 'attrs' && a.field.name === 'eth') {
      for (const at of a.field.attrs) {
        if (at.name === 'src') out.ethSrc = at.value;
        if (at.name === 'dst') out.ethDst = at.value;
      }
    }
  }
  return out;
}

const same = (a?: string, b?: string) => a === undefined || b === undefined || a === b;

function fits(parent: LiveFlow, child: LiveFlow): boolean {
  const p = sentShape(parent);
  const c = shapeOf(child);
  return same(p.ethType, c.ethType) && same(p.proto, c.proto) && same(p.ethSrc, c.ethSrc) && same(p.ethDst, c.ethDst);
}

/** Dumped text when the parser kept it (no objects built for the flows a cycle only compares). */
const actionsOf = (d: DumpedFlow): string => d.actionsText ?? formatActions(d.actions);

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}
