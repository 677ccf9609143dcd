// Datapath_Binding → the logical switch or router it implements, for both schema generations:
// 23.03 keeps the NB identity in external_ids {name, logical-switch | logical-router}; newer
// schemas add `type` ("logical-switch" | "logical-router") and `nb_uuid` columns.
import type { ReplicaRow } from '../ovsdb/replica/replica';
import type { DatapathKind, LogicalDatapathRef } from './types';

/** A reference or optional string column's value (a set of at most one), null when empty. */
export function firstRef(cell: unknown): string | null {
  if (Array.isArray(cell)) return cell.length ? String(cell[0]) : null;
  if (typeof cell === 'string' && cell !== '') return cell;
  return null;
}

export function datapathRef(row: ReplicaRow): LogicalDatapathRef {
  const ids = (row.external_ids ?? {}) as Record<string, string>;
  const type = firstRef(row.type);
  let kind: DatapathKind | null = null;
  if (type === 'logical-switch' || ids['logical-switch'] !== undefined) kind = 'switch';
  else if (type === 'logical-router' || ids['logical-router'] !== undefined) kind = 'router';
  const nbUuid = firstRef(row.nb_uuid) ?? ids['logical-switch'] ?? ids['logical-router'] ?? null;
  return {
    uuid: row._uuid,
    tunnelKey: Number(row.tunnel_key),
    name: ids.name ?? null,
    kind,
    nbUuid,
  };
}
