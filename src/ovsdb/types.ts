// RFC 7047 / ovsdb-server(7) wire types, as they appear in JSON.

export type Uuid = ['uuid', string];
export type NamedUuid = ['named-uuid', string];
export type Atom = string | number | boolean | Uuid | NamedUuid;
/** A one-element set may also arrive as a bare atom. */
export type Datum = Atom | ['set', Atom[]] | ['map', Array<[Atom, Atom]>];
export type Row = Record<string, Datum>;

/** [column, function, value], or a constant true/false. */
export type Condition = [string, string, Datum] | boolean;

export interface MonitorSelect {
  initial?: boolean;
  insert?: boolean;
  delete?: boolean;
  modify?: boolean;
}

export interface MonitorRequest {
  columns?: string[];
  /** monitor_cond and later only. */
  where?: Condition[];
  select?: MonitorSelect;
}

export type MonitorRequests = Record<string, MonitorRequest | MonitorRequest[]>;

/** update2 / update3 row change. */
export interface RowUpdate2 {
  initial?: Row;
  insert?: Row;
  delete?: null;
  modify?: Row;
}
export type TableUpdates2 = Record<string, Record<string, RowUpdate2>>;

/** Legacy `monitor` / `update` row change. */
export interface RowUpdate {
  old?: Row;
  new?: Row;
}
export type TableUpdates = Record<string, Record<string, RowUpdate>>;

export type MonitorMethod = 'monitor_cond_since' | 'monitor_cond' | 'monitor';

export type MonitorResult =
  | { method: 'monitor_cond_since'; found: boolean; lastTxnId: string; updates: TableUpdates2 }
  | { method: 'monitor_cond'; updates: TableUpdates2 }
  /** Plain `monitor` cannot filter: `where` clauses were dropped and all rows came back. */
  | { method: 'monitor'; updates: TableUpdates; conditionsIgnored: boolean };

export interface ColumnSchema {
  type: unknown;
  ephemeral?: boolean;
  mutable?: boolean;
}
export interface TableSchema {
  columns: Record<string, ColumnSchema>;
  maxRows?: number;
  isRoot?: boolean;
  indexes?: string[][];
}
export interface DatabaseSchema {
  name: string;
  version: string;
  cksum?: string;
  tables: Record<string, TableSchema>;
}

export interface SelectOperation {
  op: 'select';
  table: string;
  where: Condition[];
  columns?: string[];
}

export type OperationResult = { rows?: Row[]; error?: string; details?: string } & Record<string, unknown>;

/** The all-zero id: "no transaction seen yet" for monitor_cond_since. */
export const ZERO_TXN_ID = '00000000-0000-0000-0000-000000000000';
