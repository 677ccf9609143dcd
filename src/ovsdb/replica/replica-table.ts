// One table of a replica (replica.ts): its rows by UUID, decoded by the schema, with the indexes
// kept as rows come and go (by the UUID's first 8 hex digits, an OpenFlow cookie, and by the value
// of each indexed column) and the tombstones of deleted rows until their time to live is out.
import { CellValue, ColumnType, emptyValue, Value } from './datum';

export interface ReplicaRow {
  _uuid: string;
  [column: string]: CellValue;
}

export interface Tombstone {
  row: ReplicaRow;
  deletedAt: number;
}

export interface Table {
  name: string;
  columns: Map<string, ColumnType>;
  rows: Map<string, ReplicaRow>;
  byPrefix: Map<string, Set<string>>;
  byColumn: Map<string, Map<Value, Set<string>>>;
  tombstones: Map<string, Tombstone>;
  keepTombstones: boolean;
}

function addTo<K>(index: Map<K, Set<string>>, key: K, uuid: string): void {
  let s = index.get(key);
  if (!s) index.set(key, (s = new Set()));
  s.add(uuid);
}

function removeFrom<K>(index: Map<K, Set<string>>, key: K, uuid: string): void {
  const s = index.get(key);
  if (!s) return;
  s.delete(uuid);
  if (s.size === 0) index.delete(key);
}

export const uuidPrefix = (uuid: string): string => uuid.slice(0, 8);

export function emptyRow(t: Table, uuid: string): ReplicaRow {
  const row: ReplicaRow = { _uuid: uuid };
  for (const [c, type] of t.columns) row[c] = emptyValue(type);
  return row;
}

export function indexRow(t: Table, row: ReplicaRow): void {
  addTo(t.byPrefix, uuidPrefix(row._uuid), row._uuid);
  for (const [c, idx] of t.byColumn) for (const v of ([] as Value[]).concat(row[c] as Value | Value[])) addTo(idx, v, row._uuid);
}

export function unindexRow(t: Table, row: ReplicaRow): void {
  removeFrom(t.byPrefix, uuidPrefix(row._uuid), row._uuid);
  for (const [c, idx] of t.byColumn) for (const v of ([] as Value[]).concat(row[c] as Value | Value[])) removeFrom(idx, v, row._uuid);
}

/** Drops the tombstones of rows deleted before `limit` (ms since the epoch): past their time to live. */
export function expireTombstones(t: Table, limit: number): void {
  for (const [uuid, ts] of t.tombstones) if (ts.deletedAt < limit) t.tombstones.delete(uuid);
}
