// An in-memory copy of some tables of one OVSDB database: rows by UUID, decoded by the schema,
// with secondary indexes declared per table, tombstones for deleted rows, and change events.
// It knows nothing of sockets: the follower feeds it monitor replies and notifications.
import { EventEmitter } from 'node:events';
import type { DatabaseSchema, Row as WireRow, RowUpdate, RowUpdate2, TableUpdates, TableUpdates2 } from '../types';
import { applyDiff, brief, CellValue, columnType, ColumnType, decodeDatum, Value } from './datum';
import { emptyRow, expireTombstones, indexRow, type ReplicaRow, type Table, type Tombstone, unindexRow } from './replica-table';

export type { ReplicaRow, Tombstone } from './replica-table';

export interface TableSpec {
  /** Columns the service uses; those the server's schema lacks are skipped (and reported). */
  columns: string[];
  /** Scalar or set columns to index by value (a set column indexes each element). */
  indexes?: string[];
  /** Keep deleted rows as tombstones (for cookies that outlive their row). */
  tombstones?: boolean;
}

export type ReplicaSpec = Record<string, TableSpec>;

export interface RowChange {
  table: string;
  uuid: string;
  kind: 'insert' | 'modify' | 'delete';
  row: ReplicaRow;
  old?: ReplicaRow;
}

export interface ReplicaEvents {
  change: [change: RowChange];
  /** A full dump replaced the contents (initial sync, or resync after found=false). */
  reset: [];
  skipped: [what: string];
}

/**
 * An update the replica cannot apply: malformed (a table, row or column not laid out as
 * RFC 7047 / ovsdb-server(7) say), or inconsistent with what the replica holds: an insert (or
 * update2 "initial") of a row it has, a modify or delete of a row it lacks, the three that
 * lib/ovsdb-idl.c ovsdb_idl_process_update flags. Like the OVS IDL's "inconsistency" (lib/ovsdb-cs.c
 * ovsdb_cs_flag_inconsistency), the only way out is a fresh full copy: the follower drops its
 * resume point and reconnects. (python/ovs/db/idl.py only warns and carries on.)
 */
export class ReplicaUpdateError extends Error {
  constructor(
    readonly database: string,
    readonly detail: string,
  ) {
    super(`${database}: cannot apply an update: ${detail}`);
    this.name = 'ReplicaUpdateError';
  }
}

const isRecord = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

export class Replica extends EventEmitter<ReplicaEvents> {
  private tables = new Map<string, Table>();
  /** What the server's schema lacked, as "Table" or "Table.column". */
  readonly skipped: string[] = [];
  tombstoneTtlMs: number;
  schemaVersion: string | undefined;
  now: () => number = Date.now;

  constructor(
    readonly database: string,
    readonly spec: ReplicaSpec,
    opts: { tombstoneTtlMs?: number } = {},
  ) {
    super();
    this.tombstoneTtlMs = opts.tombstoneTtlMs ?? 3_600_000;
  }

  /** Matches the spec against the server's schema. Rows are kept when the schema is unchanged. */
  configure(schema: DatabaseSchema): void {
    if (schema.version === this.schemaVersion && this.tables.size) return;
    this.schemaVersion = schema.version;
    const old = this.tables;
    this.tables = new Map();
    this.skipped.length = 0;
    for (const [name, spec] of Object.entries(this.spec)) {
      const ts = schema.tables[name];
      if (!ts) {
        this.skip(`${name}`);
        continue;
      }
      const columns = new Map<string, ColumnType>();
      for (const c of spec.columns) {
        if (ts.columns[c]) columns.set(c, columnType(ts.columns[c]));
        else this.skip(`${name}.${c}`);
      }
      const byColumn = new Map<string, Map<Value, Set<string>>>();
      for (const c of spec.indexes ?? []) if (columns.has(c) && columns.get(c)!.kind !== 'map') byColumn.set(c, new Map());
      this.tables.set(name, {
        name,
        columns,
        rows: new Map(),
        byPrefix: new Map(),
        byColumn,
        tombstones: old.get(name)?.tombstones ?? new Map(),
        keepTombstones: !!spec.tombstones,
      });
    }
  }

  private skip(what: string): void {
    this.skipped.push(what);
    this.emit('skipped', what);
  }

  /** The `monitor*` request for the configured tables and columns. */
  monitorRequests(): Record<string, { columns: string[] }> {
    const out: Record<string, { columns: string[] }> = {};
    for (const t of this.tables.values()) out[t.name] = { columns: [...t.columns.keys()] };
    return out;
  }

  get tableNames(): string[] {
    return [...this.tables.keys()];
  }

  hasColumn(table: string, column: string): boolean {
    return !!this.tables.get(table)?.columns.has(column);
  }

  // ---- reads -------------------------------------------------------------------------

  get(table: string, uuid: string): ReplicaRow | undefined {
    return this.tables.get(table)?.rows.get(uuid);
  }

  rows(table: string): IterableIterator<ReplicaRow> {
    return (this.tables.get(table)?.rows ?? new Map<string, ReplicaRow>()).values();
  }

  count(table: string): number {
    return this.tables.get(table)?.rows.size ?? 0;
  }

  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.tables.values()) out[t.name] = t.rows.size;
    return out;
  }

  /** Live rows whose UUID starts with these 8 hex digits (an OpenFlow cookie). */
  byPrefix(table: string, prefix: string): ReplicaRow[] {
    const t = this.tables.get(table);
    const uuids = t?.byPrefix.get(prefix.toLowerCase());
    return uuids ? [...uuids].map((u) => t!.rows.get(u)!) : [];
  }

  /** Deleted rows, still inside their time to live, whose UUID starts with prefix. */
  tombstonesByPrefix(table: string, prefix: string): Tombstone[] {
    const t = this.tables.get(table);
    if (!t) return [];
    expireTombstones(t, this.now() - this.tombstoneTtlMs);
    const p = prefix.toLowerCase();
    return [...t.tombstones.values()].filter((ts) => ts.row._uuid.startsWith(p));
  }

  tombstone(table: string, uuid: string): Tombstone | undefined {
    const t = this.tables.get(table);
    if (!t) return undefined;
    expireTombstones(t, this.now() - this.tombstoneTtlMs);
    return t.tombstones.get(uuid);
  }

  find(table: string, column: string, value: Value): ReplicaRow[] {
    const t = this.tables.get(table);
    // Not configured yet (never synced) or absent from this server's schema: nothing to find.
    if (!t) return [];
    const idx = t.byColumn.get(column);
    if (!idx) {
      if (!t.columns.has(column)) return [];
      throw new Error(`no index on ${table}.${column}`);
    }
    const uuids = idx.get(value);
    return uuids ? [...uuids].map((u) => t!.rows.get(u)!) : [];
  }

  // ---- writes (from the follower) ----------------------------------------------------

  /** A full dump: the cache is replaced, never merged (rows missing from the dump are gone). */
  replaceAll(updates: TableUpdates2 | TableUpdates, legacy = false): void {
    const seen = new Map<string, Set<string>>();
    for (const [name, rows] of Object.entries(updates)) seen.set(name, new Set(Object.keys(rows)));
    for (const t of this.tables.values()) {
      for (const uuid of [...t.rows.keys()]) if (!seen.get(t.name)?.has(uuid)) this.deleteRow(t, uuid);
    }
    if (legacy) this.applyRows1(updates as TableUpdates, true);
    else this.applyRows2(updates as TableUpdates2, true);
    this.emit('reset');
  }

  // A full dump whose rows arrive in batches (a streamed monitor reply): each batch is applied as
  // it arrives, so the reply's wire objects die young instead of all living until the last byte.
  private dumpSeen: Map<string, Set<string>> | null = null;

  beginDump(): void {
    this.dumpSeen = new Map();
  }

  /** One batch of a full dump's rows: update2 `initial` rows, or legacy `new` rows. */
  applyDumpBatch(table: string, rows: Record<string, RowUpdate2> | Record<string, RowUpdate>, legacy = false): void {
    const seen = this.dumpSeen;
    if (!seen) throw new Error(`${this.database}: a dump batch of ${table} outside beginDump/endDump`);
    let s = seen.get(table);
    if (!s) seen.set(table, (s = new Set()));
    for (const uuid in rows) s.add(uuid);
    if (legacy) this.applyRows1({ [table]: rows as Record<string, RowUpdate> }, true);
    else this.applyRows2({ [table]: rows as Record<string, RowUpdate2> }, true);
  }

  /** Ends a batched dump as replaceAll ends: rows it did not carry are gone, then `reset`. */
  endDump(): void {
    const seen = this.dumpSeen;
    if (!seen) return;
    this.dumpSeen = null;
    for (const t of this.tables.values()) {
      const s = seen.get(t.name);
      for (const uuid of [...t.rows.keys()]) if (!s?.has(uuid)) this.deleteRow(t, uuid);
    }
    this.emit('reset');
  }

  /** Changes (update2/update3, or a resumed monitor's reply): each must fit what the replica holds. */
  applyUpdate2(updates: TableUpdates2): void {
    this.applyRows2(updates, false);
  }

  /** Legacy `monitor` updates: {old, new} with whole new values; checked as applyUpdate2. */
  applyUpdate(updates: TableUpdates): void {
    this.applyRows1(updates, false);
  }

  /**
   * A dump (`dump`) may send rows the replica has: unlike the IDL, which clears its tables before a
   * full copy, the replica keeps them so that only real differences are emitted as changes.
   */
  private applyRows2(updates: TableUpdates2, dump: boolean): void {
    this.checkTables(updates);
    for (const [name, rows] of Object.entries(updates)) {
      const t = this.tables.get(name);
      if (!t) continue;
      this.checkRows(name, rows);
      for (const [uuid, u] of Object.entries(rows)) {
        if (!isRecord(u)) throw new ReplicaUpdateError(this.database, `row ${uuid} of table ${name}: the row update is ${brief(u)}, not an object`);
        const wire = u.initial ?? u.insert ?? u.modify;
        if (wire !== undefined && !isRecord(wire)) {
          throw new ReplicaUpdateError(this.database, `row ${uuid} of table ${name}: its columns are ${brief(wire)}, not an object`);
        }
        if (u.initial || u.insert) {
          if (!dump) this.mustLack(t, uuid, u.initial ? 'initial' : 'insert');
          this.putRow(t, uuid, this.decodeRow(t, uuid, (u.initial ?? u.insert)!, undefined));
        } else if (u.modify) {
          // A diff applies to the row it was computed against; without it the result would be a
          // row of empty columns and diffs taken for values (the OVS IDL: "cannot modify missing row").
          this.putRow(t, uuid, this.decodeRow(t, uuid, u.modify, this.mustHave(t, uuid, 'modify')));
        } else if ('delete' in u) {
          this.mustHave(t, uuid, 'delete');
          this.deleteRow(t, uuid);
        }
      }
    }
  }

  private checkTables(updates: unknown): void {
    if (!isRecord(updates)) throw new ReplicaUpdateError(this.database, `the table updates are ${brief(updates)}, not an object`);
  }

  private checkRows(table: string, rows: unknown): void {
    if (!isRecord(rows)) throw new ReplicaUpdateError(this.database, `the updates of table ${table} are ${brief(rows)}, not an object`);
  }

  /** An insert of a row the replica has: its copy and the server's disagree (OVS: "cannot add existing row"). */
  private mustLack(t: Table, uuid: string, kind: string): void {
    if (t.rows.has(uuid)) throw new ReplicaUpdateError(this.database, `${kind} of row ${uuid} of table ${t.name}, which the replica already has`);
  }

  /** A modify or delete of a row the replica lacks (OVS: "cannot modify/delete missing row"). */
  private mustHave(t: Table, uuid: string, kind: string): ReplicaRow {
    const row = t.rows.get(uuid);
    if (!row) throw new ReplicaUpdateError(this.database, `${kind} of row ${uuid} of table ${t.name}, which the replica does not have`);
    return row;
  }

  /** Legacy rows: {new} inserts, {old, new} modifies, {old} deletes (lib/ovsdb-cs.c ovsdb_cs_parse_row_update1). */
  private applyRows1(updates: TableUpdates, dump: boolean): void {
    this.checkTables(updates);
    for (const [name, rows] of Object.entries(updates)) {
      const t = this.tables.get(name);
      if (!t) continue;
      this.checkRows(name, rows);
      for (const [uuid, u] of Object.entries(rows)) {
        if (!isRecord(u) || (u.new !== undefined && !isRecord(u.new))) {
          throw new ReplicaUpdateError(this.database, `row ${uuid} of table ${name}: the row update is ${brief(u)}, not {"old":…,"new":{…}}`);
        }
        if (u.new) {
          if (!dump && u.old === undefined) this.mustLack(t, uuid, 'insert');
          else if (!dump) this.mustHave(t, uuid, 'modify');
          const base = t.rows.get(uuid);
          const row: ReplicaRow = base ? { ...base } : emptyRow(t, uuid);
          for (const [c, d] of Object.entries(u.new)) {
            const type = t.columns.get(c);
            if (type) row[c] = this.decodeCell(t, uuid, c, () => decodeDatum(type, d));
          }
          this.putRow(t, uuid, row);
        } else {
          if (!dump) this.mustHave(t, uuid, 'delete');
          this.deleteRow(t, uuid);
        }
      }
    }
  }

  private decodeRow(t: Table, uuid: string, wire: WireRow, old: ReplicaRow | undefined): ReplicaRow {
    const row: ReplicaRow = old ? { ...old } : emptyRow(t, '');
    row._uuid = old?._uuid ?? '';
    for (const [c, d] of Object.entries(wire)) {
      const type = t.columns.get(c);
      if (!type) continue;
      row[c] = this.decodeCell(t, uuid, c, () => (old ? applyDiff(type, old[c], d) : decodeDatum(type, d)));
    }
    return row;
  }

  /** Decodes one cell; a datum that is not what its column's type says is named, not a TypeError. */
  private decodeCell(t: Table, uuid: string, column: string, decode: () => CellValue): CellValue {
    try {
      return decode();
    } catch (err) {
      throw new ReplicaUpdateError(this.database, `row ${uuid} of table ${t.name}, column ${column}: ${(err as Error).message}`);
    }
  }

  private putRow(t: Table, uuid: string, row: ReplicaRow): void {
    row._uuid = uuid;
    const old = t.rows.get(uuid);
    if (old) unindexRow(t, old);
    t.rows.set(uuid, row);
    indexRow(t, row);
    t.tombstones.delete(uuid);
    this.emit('change', { table: t.name, uuid, kind: old ? 'modify' : 'insert', row, old });
  }

  private deleteRow(t: Table, uuid: string): void {
    const old = t.rows.get(uuid);
    if (!old) return;
    unindexRow(t, old);
    t.rows.delete(uuid);
    if (t.keepTombstones) t.tombstones.set(uuid, { row: old, deletedAt: this.now() });
    this.emit('change', { table: t.name, uuid, kind: 'delete', row: old });
  }
}
