// The OVN model over the live replicas: cookie → southbound owners (tombstones included),
// stage-hint → northbound row, datapath and port keys → logical names, OVS interfaces → logical
// ports. Answers are cached and the caches are invalidated from the replicas' change events,
// so a query never rescans a table and never sees rows older than the replica.
import { OFPP_LOCAL } from '../ovs/dpif-show';
import type { ReplicaRow, Replica, RowChange } from '../ovsdb/replica/replica';
import { nbChangeMoves, sbChangeMoves } from './model-generations';
import type { HintTable, LogicalDatapathRef, LogicalFlowSnapshot, OwnerTable, StepHint, StepOwner } from './types';
import { cookieUuidPrefix } from '../ovs/ids';
import { datapathRef, firstRef } from './datapaths';
import { flowSnapshot } from './flow-snapshot';
import { hintName, hintSummary, ownerSummary } from './summaries';
import type { HeaderRewrite } from '../ovs/key-rewrite';
import { natRewritesOf } from './nat-rewrites';
import { ctZoneOwners, rewritesInZone, type ZoneOwners } from './ct-zones';
import type { OvnTunnelKeys } from '../ovs/odp-tunnel';
import { zonedTunnelKeys, type ChassisZone, type PushEnds } from './tunnel-zones';
import { ovsInterfaceIndex, type OvsInterfaceIndex, type OvsInterfaceRef } from './ovs-interfaces';

/** In ovn-detrace's order (its cookie handlers first), then the ones it does not know. */
export const OWNER_TABLES: readonly OwnerTable[] = [
  'Logical_Flow', 'Port_Binding', 'MAC_Binding', 'Multicast_Group', 'Chassis', 'Load_Balancer',
  'Static_MAC_Binding', 'FDB', 'Datapath_Binding',
];
/** In ovn-detrace's order of hint handlers, then Logical_Switch / Logical_Router (ours). */
export const HINT_TABLES: readonly HintTable[] = [
  'ACL', 'DHCP_Options', 'Forwarding_Group', 'Logical_Switch_Port', 'Logical_Router_Port',
  'Logical_Router_Policy', 'Load_Balancer', 'NAT', 'Logical_Router_Static_Route', 'QoS',
  'Logical_Switch', 'Logical_Router',
];
const OWNER_SET = new Set<string>(OWNER_TABLES);
const HINT_SET = new Set<string>(HINT_TABLES);

export interface CookieOwners {
  readonly cookie: string;
  readonly owners: readonly StepOwner[];
  readonly collision: boolean;
  /** The hint rows of every owning logical flow, in owner order (duplicates included). */
  readonly hints: readonly StepHint[];
  /** The first hint (of the first logical flow that has one), null when none. */
  readonly hint: StepHint | null;
}

export interface LogicalPortRef {
  readonly logicalPort: string;
  readonly portBindingUuid: string;
  readonly datapath: LogicalDatapathRef | null;
  readonly type: string;
  readonly tunnelKey: number;
  readonly chassis: string | null;
  /** A localnet (or container) port's VLAN tag: ovn-controller pushes it on what it sends by the port. */
  readonly tag: number | null;
}

export interface OvnReplicas {
  readonly nb: Replica;
  readonly sb: Replica;
  /** The local Open_vSwitch database; without it interfaces map to no logical port. */
  readonly ovs?: Replica;
}

export class OvnModel {
  private readonly cookies = new Map<string, CookieOwners & { expiresAt: number }>();
  /** Cookie text as printed → UUID prefix (pure; saves the parse on every step). */
  private readonly prefixes = new Map<string, string | null>();
  /** hint prefix → cookies whose cached answer used it. */
  private readonly hintDeps = new Map<string, Set<string>>();
  private readonly datapaths = new Map<number, LogicalDatapathRef | null>();
  private readonly ports = new Map<string, LogicalPortRef | null>();
  /** The NB Load_Balancer and NAT rows as header rewrites; null until asked for after a change. */
  private rewrites: readonly HeaderRewrite[] | null = null;
  /** natRewrites by conntrack zone, and whose zone is which (ct-zones.ts); dropped with `rewrites` or an OVS change. */
  private zoned = new Map<number, readonly HeaderRewrite[]>();
  private zoneOwners: ZoneOwners | null = null;
  private interfaces: OvsInterfaceIndex | null = null;
  /** Whether a Chassis row is is-remote; null until asked for after a Chassis change (a shared SB change clears it). */
  private remoteChassis: boolean | null = null;
  private readonly listeners: Array<() => void> = [];
  /** Bumped on every invalidation: lets callers (annotators) keep their own caches honest. */
  generation = 0;
  /**
   * Bumped when the topology may have changed: the SB bindings and datapaths, the NB switch ports,
   * routers and routes (model-generations.ts), the local OVS database, a reset. Not by logical flows, MAC or FDB bindings, which
   * change far more often: what a port session's route walk reads (trace-sessions/port-target.ts).
   */
  topologyGeneration = 0;
  /**
   * Bumped when a row the route walk reads may have changed (trace-sessions/port-target.ts): every
   * Datapath_Binding, a Port_Binding that is or was a link, the NB routers, router ports and routes
   * (model-generations.ts), a reset. Not by a VM port's switch port or binding: a pod created or deleted in a big cluster
   * bumps topologyGeneration (a session's own port may be it) but leaves the walk's answer as it was.
   */
  routingGeneration = 0;
  readonly stats = { cookieHits: 0, cookieMisses: 0, invalidations: 0 };

  constructor(readonly db: OvnReplicas, readonly integrationBridge = 'br-int') {
    this.listen(db.sb, (c) => this.onSbChange(c), () => this.reset());
    this.listen(db.nb, (c) => this.onNbChange(c), () => this.reset());
    // The walk reads nothing of the local OVS database: its reset leaves routingGeneration as it was.
    if (db.ovs) this.listen(db.ovs, () => (this.topologyGeneration++, this.touch(() => this.dropOvs())), () => this.clearAll());
  }

  private listen(r: Replica, onChange: (c: RowChange) => void, onReset: () => void): void {
    r.on('change', onChange);
    r.on('reset', onReset);
    this.listeners.push(() => {
      r.off('change', onChange);
      r.off('reset', onReset);
    });
  }

  dispose(): void {
    for (const off of this.listeners.splice(0)) off();
  }

  private dropOvs(): void {
    this.interfaces = null;
    this.zoneOwners = null;
    this.zoned.clear();
  }

  private touch(fn: () => void): void {
    fn();
    this.generation++;
    this.stats.invalidations++;
  }

  /** A full dump replaced a database's rows: anything may have changed. */
  private reset(): void {
    this.routingGeneration++;
    this.clearAll();
  }

  private clearAll(): void {
    this.topologyGeneration++;
    this.touch(() => {
      this.cookies.clear();
      this.hintDeps.clear();
      this.datapaths.clear();
      this.ports.clear();
      this.dropOvs();
      this.rewrites = null;
      this.remoteChassis = null;
    });
  }

  private onSbChange(c: RowChange): void {
    const moves = sbChangeMoves(c);
    if (moves.routing) this.routingGeneration++;
    if (moves.shared) return this.clearAll();
    if (OWNER_SET.has(c.table)) this.touch(() => this.cookies.delete(c.uuid.slice(0, 8)));
  }

  private onNbChange(c: RowChange): void {
    const moves = nbChangeMoves(c.table);
    if (moves.topology) this.topologyGeneration++;
    if (moves.routing) this.routingGeneration++;
    if (moves.rewrites) {
      this.rewrites = null;
      this.zoned.clear();
    }
    if (!HINT_SET.has(c.table)) return;
    const deps = this.hintDeps.get(c.uuid.slice(0, 8));
    if (!deps) return;
    this.touch(() => {
      for (const cookie of deps) this.cookies.delete(cookie);
      this.hintDeps.delete(c.uuid.slice(0, 8));
    });
  }

  // ---- cookies ---------------------------------------------------------------------------

  /** Every southbound row owning this cookie, live and stale; empty for cookie 0. */
  owners(cookie: string): CookieOwners {
    let prefix = this.prefixes.get(cookie);
    if (prefix === undefined) {
      if (this.prefixes.size > 100_000) this.prefixes.clear();
      this.prefixes.set(cookie, (prefix = cookieUuidPrefix(cookie)));
    }
    if (!prefix) return { cookie: '0x00000000', owners: [], collision: false, hints: [], hint: null };
    const cached = this.cookies.get(prefix);
    if (cached && cached.expiresAt > this.db.sb.now()) {
      this.stats.cookieHits++;
      return cached;
    }
    this.stats.cookieMisses++;
    const fresh = this.resolve(prefix);
    this.cookies.set(prefix, fresh);
    return fresh;
  }

  private resolve(prefix: string): CookieOwners & { expiresAt: number } {
    const sb = this.db.sb;
    const owners: StepOwner[] = [];
    const hints: StepHint[] = [];
    let expiresAt = Infinity;
    for (const table of OWNER_TABLES) {
      const live = sb.byPrefix(table, prefix).sort(byUuid);
      const dead = sb.tombstonesByPrefix(table, prefix).sort((a, b) => byUuid(a.row, b.row));
      for (const ts of dead) expiresAt = Math.min(expiresAt, ts.deletedAt + sb.tombstoneTtlMs);
      for (const [row, stale] of [...live.map((r) => [r, false] as const), ...dead.map((t) => [t.row, true] as const)]) {
        const owner = this.owner(table, row, stale);
        owners.push(owner);
        const hintPrefix = owner.logicalFlow?.stageHint;
        if (hintPrefix) {
          hints.push(...this.hintRows(hintPrefix));
          let deps = this.hintDeps.get(hintPrefix);
          if (!deps) this.hintDeps.set(hintPrefix, (deps = new Set()));
          deps.add(prefix);
        }
      }
    }
    return { cookie: '0x' + prefix, owners, collision: owners.length > 1, hints, hint: hints[0] ?? null, expiresAt };
  }

  private owner(table: OwnerTable, row: ReplicaRow, stale: boolean): StepOwner {
    if (table === 'Logical_Flow') return { table, uuid: row._uuid, stale, logicalFlow: this.snapshot(row) };
    const dpUuid = table === 'Datapath_Binding' ? row._uuid : firstRef(row.datapath);
    const datapath = table === 'FDB' ? this.datapathByKey(Number(row.dp_key)) : dpUuid ? this.datapathByUuid(dpUuid) : null;
    const text = ownerSummary(table, row, {
      chassis: (u) => this.db.sb.get('Chassis', u) ?? this.db.sb.tombstone('Chassis', u)?.row,
      portName: (u) => {
        const pb = this.db.sb.get('Port_Binding', u) ?? this.db.sb.tombstone('Port_Binding', u)?.row;
        return pb ? String(pb.logical_port) : undefined;
      },
      datapath,
    });
    return { table, uuid: row._uuid, stale, name: text.name, summary: text.summary, datapath };
  }

  /** A Logical_Flow row as a snapshot (flow-snapshot.ts). */
  snapshot(row: ReplicaRow): LogicalFlowSnapshot {
    return flowSnapshot(row, this.db.sb, (u) => this.datapathByUuid(u));
  }

  /** Northbound rows whose UUID starts with the hint, table by table (ovn-detrace's order). */
  hintRows(prefix: string): StepHint[] {
    const out: StepHint[] = [];
    for (const table of HINT_TABLES) {
      for (const r of this.db.nb.byPrefix(table, prefix).sort(byUuid)) {
        out.push({ table, uuid: r._uuid, name: hintName(table, r), summary: hintSummary(table, r) });
      }
    }
    return out;
  }

  // ---- datapaths and ports ---------------------------------------------------------------

  datapathByUuid(uuid: string): LogicalDatapathRef | null {
    const row = this.db.sb.get('Datapath_Binding', uuid) ?? this.db.sb.tombstone('Datapath_Binding', uuid)?.row;
    return row ? datapathRef(row) : null;
  }

  /** `metadata` / geneve VNI → the logical switch or router. */
  datapathByKey(key: number): LogicalDatapathRef | null {
    let dp = this.datapaths.get(key);
    if (dp === undefined) {
      const row = this.db.sb.find('Datapath_Binding', 'tunnel_key', key)[0];
      dp = row ? datapathRef(row) : null;
      this.datapaths.set(key, dp);
    }
    return dp;
  }

  /** (datapath tunnel_key, port tunnel_key) — `metadata` + `reg14`/`reg15` — → logical port. */
  portByKeys(dpKey: number, portKey: number): LogicalPortRef | null {
    const k = `${dpKey}/${portKey}`;
    let p = this.ports.get(k);
    if (p === undefined) {
      const dp = this.datapathByKey(dpKey);
      const row = dp ? this.db.sb.find('Port_Binding', 'datapath', dp.uuid).find((r) => Number(r.tunnel_key) === portKey) : undefined;
      p = row ? this.portRef(row, dp) : null;
      this.ports.set(k, p);
    }
    return p;
  }

  portByName(logicalPort: string): LogicalPortRef | null {
    const k = `name:${logicalPort}`;
    let p = this.ports.get(k);
    if (p === undefined) {
      const row = this.db.sb.find('Port_Binding', 'logical_port', logicalPort)[0];
      p = row ? this.portRef(row, firstRef(row.datapath) ? this.datapathByUuid(firstRef(row.datapath)!) : null) : null;
      this.ports.set(k, p);
    }
    return p;
  }

  private portRef(row: ReplicaRow, dp: LogicalDatapathRef | null): LogicalPortRef {
    const ch = firstRef(row.chassis);
    const chassis = ch ? (this.db.sb.get('Chassis', ch)?.name as string | undefined) ?? null : null;
    return {
      logicalPort: String(row.logical_port),
      portBindingUuid: row._uuid,
      datapath: dp,
      type: String(row.type ?? ''),
      tunnelKey: Number(row.tunnel_key),
      chassis,
      tag: firstNumber(row.tag),
    };
  }

  /**
   * OVN's keys of a tunnel push (odp-tunnel.ts ovnTunnelKeys) with what the push alone cannot tell: whether a VXLAN
   * VNI between availability zones carries a flood's ingress (tunnel-zones.ts). `sender`: the chassis that pushed,
   * when the push has no source IP (kernel form). The one reading of both ends of a hop: paths, verdicts, sessions.
   */
  tunnelKeys(push: PushEnds, sender?: string | null): OvnTunnelKeys | null {
    return zonedTunnelKeys(this, push, sender);
  }

  /** A chassis as this southbound knows it: other_config:is-remote (another zone's, written by ovn-ic), or no row. */
  chassisZone(name: string | null | undefined): ChassisZone {
    if (!name) return 'unknown';
    const row = this.db.sb.find('Chassis', 'name', name)[0];
    if (!row) return 'unknown';
    return (row.other_config as Record<string, string> | undefined)?.['is-remote'] === 'true' ? 'remote' : 'local';
  }

  /** Whether this southbound holds another zone's chassis (an interconnection's). */
  hasRemoteChassis(): boolean {
    if (this.remoteChassis === null) {
      this.remoteChassis = false;
      for (const r of this.db.sb.rows('Chassis')) if ((r.other_config as Record<string, string> | undefined)?.['is-remote'] === 'true') this.remoteChassis = true;
    }
    return this.remoteChassis;
  }

  /** Chassis name of a tunnel endpoint IP (SB Encap). */
  chassisByIp(ip: string): string | null {
    try {
      const e = this.db.sb.find('Encap', 'ip', ip)[0];
      return e ? String(e.chassis_name) : null;
    } catch {
      return null; // Encap not replicated (older spec): unknown, not an error
    }
  }

  /**
   * What a bare conntrack `nat` can rewrite here: every NB load balancer VIP (and its hairpin),
   * NAT row and router lb_force_snat_ip (nat-rewrites.ts); with `zone`, those a ct(zone=N,nat) there can
   * apply (a router's only in its own zones: ct-zones.ts). The same array until one of those rows changes.
   */
  natRewrites(zone?: number): readonly HeaderRewrite[] {
    const nb = this.db.nb;
    const all = (this.rewrites ??= natRewritesOf(nb.rows('Load_Balancer'), nb.rows('NAT'), nb.rows('Logical_Router'), nb.rows('Logical_Router_Port'), nb.rows('Load_Balancer_Group')));
    if (zone === undefined || !this.db.ovs) return all;
    this.zoneOwners ??= ctZoneOwners([...this.db.ovs.rows('Bridge')].filter((b) => b.name === this.integrationBridge), this.db.sb.rows('Datapath_Binding'));
    let out = this.zoned.get(zone);
    if (!out) this.zoned.set(zone, (out = rewritesInZone(all, zone, this.zoneOwners)));
    return out;
  }

  // ---- OVS interfaces --------------------------------------------------------------------

  private interfaceIndex(): OvsInterfaceIndex {
    return (this.interfaces ??= ovsInterfaceIndex(this.db.ovs));
  }

  interfaceByName(name: string): OvsInterfaceRef | null {
    return this.interfaceIndex().byName.get(name) ?? null;
  }

  /**
   * A bridge's own LOCAL port (OpenFlow port 65534, named as its bridge: the host's interface of it),
   * by the local database: a bridge's NORMAL flood reaches it, OVN never outputs there.
   */
  isBridgeLocal(name: string): boolean {
    const idx = this.interfaceIndex();
    return idx.bridges.has(name) || idx.byName.get(name)?.ofport === OFPP_LOCAL;
  }

  /** OpenFlow port on a bridge (the integration bridge by default) → interface. */
  interfaceByOfport(ofport: number, bridge = this.integrationBridge): OvsInterfaceRef | null {
    return this.interfaceIndex().byOfport.get(`${bridge}/${ofport}`) ?? null;
  }
}

function byUuid(a: ReplicaRow, b: ReplicaRow): number {
  return a._uuid < b._uuid ? -1 : a._uuid > b._uuid ? 1 : 0;
}

/** An optional integer column (a set of at most one). */
function firstNumber(cell: unknown): number | null {
  const v = Array.isArray(cell) ? cell[0] : cell;
  return typeof v === 'number' ? v : null;
}
