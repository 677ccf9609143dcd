// A lifetime as the API shows it (GET /datapath-flows, a logical flow's audit) and the
// datapath_flow row it is read from: one mapping, so every route shows the same fields.
export interface DatapathFlowJson {
  id: number;
  ufid: string;
  chassis: string;
  state: 'live' | 'removed';
  firstSeen: string;
  lastSeen: string;
  removedAt: string | null;
  removalReason: string | null;
  inPort: string | null;
  recircId: string;
  key: string;
  actions: string;
  packets: number;
  bytes: number;
  /**
   * The last reading's `used:` as dump-flows printed it ("0.081s", "never"): how long the flow had been
   * idle at that reading, for a live lifetime; null once removed, as the reading's own time is not kept
   * (last_seen moves with events that carry no `used`), so no absolute time can be told from it.
   */
  used: string | null;
  source: string;
}

/** A lifetime's recirculation parent or child: the other lifetime and the edge's recirc id. */
export interface RecircNeighbour {
  id: number;
  ufid: string;
  recircId: string;
  via: string;
}

/** A datapath_flow row (also read by the logical-flow audits: logical-flow-store.ts). */
export interface DatapathFlowRow {
  id: number;
  chassis: string;
  ufid: string;
  first_seen: string;
  last_seen: string;
  removed_at: string | null;
  removal_reason: string | null;
  in_port: string | null;
  recirc_id: string;
  key: string;
  actions: string;
  packets: number;
  bytes: number;
  used: string | null;
  source: string;
}

export const datapathFlowJson = (r: DatapathFlowRow): DatapathFlowJson => ({
  id: r.id,
  ufid: r.ufid,
  chassis: r.chassis,
  state: r.removed_at ? 'removed' : 'live',
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
  removedAt: r.removed_at,
  removalReason: r.removal_reason,
  inPort: r.in_port,
  recircId: r.recirc_id,
  key: r.key,
  actions: r.actions,
  packets: r.packets,
  bytes: r.bytes,
  used: r.removed_at ? null : r.used,
  source: r.source,
});
