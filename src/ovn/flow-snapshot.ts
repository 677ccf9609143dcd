// A southbound Logical_Flow row as the snapshot a trace step stores (its datapath groups expanded,
// ordered as ovn-detrace lists them) and the content hash the step store dedupes snapshots by
// (traces/step-ref-store.ts). Apart from the model because neither needs its caches: the row, the
// southbound for its Logical_DP_Group, and a datapath lookup in, the snapshot out.
import { createHash } from 'node:crypto';
import type { Replica, ReplicaRow } from '../ovsdb/replica/replica';
import { firstRef } from './datapaths';
import type { LogicalDatapathRef, LogicalFlowSnapshot } from './types';

/** What a snapshot holds, hashed: two rows alike in all of it (a tombstone and its live successor) are one snapshot. */
export function contentHash(f: Omit<LogicalFlowSnapshot, 'uuid' | 'contentHash'>): string {
  const ids = Object.keys(f.externalIds).sort().map((k) => [k, f.externalIds[k]]);
  const canon = JSON.stringify([
    f.datapaths.map((d) => [d.uuid, d.tunnelKey, d.name, d.kind, d.nbUuid]),
    f.pipeline, f.tableId, f.stage, f.priority, f.match, f.actions, f.source, f.stageHint, ids,
  ]);
  return createHash('sha256').update(canon).digest('hex').slice(0, 32);
}

/** `datapathByUuid`: the model's (live or tombstoned Datapath_Binding); a datapath it does not know is kept by its UUID alone. */
export function flowSnapshot(row: ReplicaRow, sb: Replica, datapathByUuid: (uuid: string) => LogicalDatapathRef | null): LogicalFlowSnapshot {
  const dpUuids: string[] = [];
  const own = firstRef(row.logical_datapath);
  if (own) dpUuids.push(own);
  const group = firstRef(row.logical_dp_group);
  if (group) {
    const g = sb.get('Logical_DP_Group', group) ?? sb.tombstone('Logical_DP_Group', group)?.row;
    dpUuids.push(...([] as unknown[]).concat(g?.datapaths ?? []).map(String).sort());
  }
  const datapaths = dpUuids.map((u) => datapathByUuid(u) ?? { uuid: u, tunnelKey: 0, name: null, kind: null, nbUuid: null });
  const ids = (row.external_ids ?? {}) as Record<string, string>;
  const body = {
    datapaths,
    pipeline: (row.pipeline === 'egress' ? 'egress' : 'ingress') as 'ingress' | 'egress',
    tableId: Number(row.table_id),
    stage: ids['stage-name'] ?? null,
    priority: Number(row.priority),
    match: String(row.match),
    actions: String(row.actions),
    source: ids.source ?? null,
    stageHint: ids['stage-hint'] ? ids['stage-hint'].toLowerCase().slice(0, 8) : null,
    externalIds: { ...ids },
  };
  return { uuid: row._uuid, contentHash: contentHash(body), ...body };
}
