// The connection the API's reads use, whichever database holds the history (issue 19): the
// embedded SQLite file (the read-only connection, answers at once) or PostgreSQL (a pg pool). Reads
// are written once, in SQL both dialects run; where they differ a store asks `dialect` or uses the
// fragments below. Values come back as SQLite gives them (integers as numbers, 0/1 for flags,
// text as text): postgres.ts sets pg's type parsers and the schema keeps SQLite's column types, so
// an answer is the same bytes on both.
import type { Database, Statement } from 'better-sqlite3';
import type { Pool, QueryConfig } from 'pg';
import { SILENT_MS, withClient } from './pg-client';
import { Statements } from './writer';

export type Dialect = 'sqlite' | 'postgres';

export interface SqlReader {
  readonly dialect: Dialect;
  /** Every row, as objects keyed by column name. Parameters are `?`, in order. */
  all<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** The first row, or undefined. */
  get<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  /** Every row, as arrays of column values (no per-row object: the trace page's port rows). */
  rows<T extends unknown[] = unknown[]>(sql: string, ...params: unknown[]): Promise<T[]>;
  /**
   * A subquery that yields one column `value` from one parameter holding a list (pass
   * `list(values)` as that parameter): `x IN (${sql.inList('int')})`.
   */
  inList(kind: 'int' | 'text'): string;
  list(values: ReadonlyArray<number | string>): unknown;
}

/** The SQLite side: prepared statements cached by their text (the writer's Statements), answers at once. */
export class SqliteReader implements SqlReader {
  readonly dialect = 'sqlite' as const;
  private readonly statements: Statements;
  /** Each statement's column names, for the objects `all` and `get` build. */
  private readonly names = new WeakMap<Statement, string[]>();

  constructor(readonly db: Database) {
    this.statements = new Statements(db);
  }

  private stmt(sql: string): Statement {
    return this.statements.get(sql);
  }

  // raw() sticks to a statement: every read sets it. Objects are built here from the raw rows:
  // better-sqlite3 builds each row object property by property through V8's C++ API, which took
  // a third of an audit's 51-row read of datapath_flow; a plain loop here takes a fraction of that
  // (bench/api/RESULTS-postgres.md, stop 20). Same keys, same order, a repeated name keeps its last
  // value in its first place, as better-sqlite3's objects do.
  async all<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    const s = this.stmt(sql);
    const rows = s.raw(true).all(...params) as unknown[][];
    const names = rows.length ? this.columns(s, rows[0].length) : [];
    const out = new Array<T>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = asObject(names, rows[i]) as T;
    return out;
  }

  async get<T>(sql: string, ...params: unknown[]): Promise<T | undefined> {
    const s = this.stmt(sql);
    const row = s.raw(true).get(...params) as unknown[] | undefined;
    return row && (asObject(this.columns(s, row.length), row) as T);
  }

  /** The names of a statement's columns, read again if a row has another count (SQLite re-prepared a `*` after a schema change). */
  private columns(s: Statement, count: number): string[] {
    let names = this.names.get(s);
    if (names?.length !== count) this.names.set(s, (names = s.columns().map((c) => c.name)));
    return names;
  }

  async rows<T extends unknown[]>(sql: string, ...params: unknown[]): Promise<T[]> {
    return this.stmt(sql).raw(true).all(...params) as T[];
  }

  inList(): string {
    return 'SELECT value FROM json_each(?)';
  }

  list(values: ReadonlyArray<number | string>): unknown {
    return JSON.stringify(values);
  }
}

function asObject(names: string[], row: unknown[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < names.length; i++) o[names[i]] = row[i];
  return o;
}

/**
 * A named statement per SQL text, for the whole process: a name is prepared per connection, and
 * two readers over one pool naming their own statements lt0, lt1, … would give one name two texts
 * on a connection (pg refuses: "Prepared statements must be unique").
 */
const statements = new Map<string, { text: string; name: string }>();

/**
 * Put first in a read whose best plan depends on its values (a port in most traces or in a few):
 * PostgreSQL gets it unnamed, so it plans it for the values of each call. A named statement is planned
 * once for every value after its first five calls (its generic plan, when the estimate of an average
 * value costs no more), and for GET /datapath-flows?logical_port= of a port in every trace that plan
 * read the port's whole history: ~1M buffers, ~1 s at 150k traces, against ~170 planned for the port
 * (bench/api/RESULTS-postgres.md, "stop 26: hot-port plans"). A comment to SQLite.
 */
export const PLAN_EACH_CALL = '/* planned for its values */ ';

/**
 * The PostgreSQL side: the same SQL with `?` numbered, named prepared statements per text. Each read
 * on the pool's guarded client (pg-client.ts): a connection that falls silent (a partition, a frozen
 * host) is given up after `silentMs` and the read fails as PostgreSQL unreachable (the API's 503),
 * where pool.query waited for good: statement_timeout is the server's, and the server is gone.
 */
export class PgReader implements SqlReader {
  readonly dialect = 'postgres' as const;

  /**
   * SILENT_MS: over PostgreSQL's statement_timeout, so a slow read the server ends itself is not cut
   * short. `abandon` aborted (the process stopping) gives the reads in flight up at once (withClient).
   */
  constructor(
    private readonly pool: Pool,
    private readonly silentMs = SILENT_MS,
    private readonly abandon?: AbortSignal,
  ) {}

  private config(sql: string, params: unknown[], rowMode?: 'array'): QueryConfig {
    let t = statements.get(sql);
    if (!t) statements.set(sql, (t = { text: numberPlaceholders(sql), name: `lt${statements.size}` }));
    const name = sql.startsWith(PLAN_EACH_CALL) ? {} : { name: t.name };
    return { text: t.text, ...name, values: params.map(pgValue), ...(rowMode ? { rowMode } : {}) } as QueryConfig;
  }

  private async query(config: QueryConfig): Promise<unknown[]> {
    return (await withClient(this.pool, this.silentMs, (c) => c.query(config), this.abandon)).rows;
  }

  async all<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    return (await this.query(this.config(sql, params))) as T[];
  }

  async get<T>(sql: string, ...params: unknown[]): Promise<T | undefined> {
    return (await this.query(this.config(sql, params)))[0] as T | undefined;
  }

  async rows<T extends unknown[]>(sql: string, ...params: unknown[]): Promise<T[]> {
    return (await this.query(this.config(sql, params, 'array'))) as T[];
  }

  inList(kind: 'int' | 'text'): string {
    return kind === 'int' ? 'SELECT unnest(?::bigint[]) AS value' : 'SELECT unnest(?::text[]) AS value';
  }

  list(values: ReadonlyArray<number | string>): unknown {
    return values;
  }
}

/** SQLite binds booleans as 0/1 and bigints as integers; so does this. */
function pgValue(v: unknown): unknown {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return v.toString();
  return v;
}

/**
 * `?` → `$1`, `$2`, … outside quoted text ('…', "…") and comments: the placeholders the stores
 * write for SQLite, numbered for PostgreSQL.
 */
export function numberPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      const stop = end < 0 ? sql.length : end + 1;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '?') {
      out += `$${++n}`;
    } else {
      out += c;
    }
  }
  return out;
}
