// Issue 19's "the same answers on SQLite and PostgreSQL over one history": two running services,
// one on each store, asked every GET of route-list.ts, each answer compared byte for byte; and the
// rows of a PostgreSQL database copied into a SQLite store, for a history only PostgreSQL holds
// whole (several agents' spools shipped into it).
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { sqliteLikeTypes } from '../../src/storage/postgres';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { answers, RawAnswer, requests } from './route-list';

/**
 * /health and /metrics describe the process, not the history (PostgreSQL adds /health's central
 * part and the ship_* metrics by design): asked, not compared.
 */
export const PROCESS_ROUTES = new Set(['/health', '/metrics']);

/** One GET against a service listening at `origin`, as route-list's answers() takes it. */
export const overHttp =
  (origin: string) =>
  async (url: string): Promise<RawAnswer> => {
    const r = await fetch(`${origin}${url}`);
    return { status: r.status, type: (r.headers.get('content-type') ?? '').split(';')[0], text: await r.text() };
  };

/** Where two answers part: the byte offset and a little of each side from a few bytes before. */
export function firstDifference(a: string, b: string): string {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  const from = Math.max(0, i - 60);
  const show = (buf: Buffer) => JSON.stringify(buf.subarray(from, i + 120).toString('utf8'));
  return `at byte ${i} (of ${x.length} / ${y.length}):\n  sqlite:   ${show(x)}\n  postgres: ${show(y)}`;
}

export interface Comparison {
  /** Routes listed from the history (before pages are walked). */
  listed: number;
  /** Answers compared (pages included, /health and /metrics not). */
  compared: number;
  /** Of those, answers with status 200. */
  ok: number;
  identical: number;
  /** Each differing answer: the route and where the bytes part. */
  differ: string[];
  /** The SQLite side's answers by route (bodies for the caller's own checks). */
  sqlite: Map<string, string>;
}

/** Every route of the SQLite history `historyFile` asked of both services, compared byte for byte. */
export async function compareServices(historyFile: string, sqlite: (url: string) => Promise<RawAnswer>, postgres: (url: string) => Promise<RawAnswer>): Promise<Comparison> {
  const urls = requests(historyFile);
  const a = await answers(urls, sqlite);
  const b = await answers(urls, postgres);
  const byUrl = new Map(b.map((x) => [x.url, x.shown] as const));
  const inA = new Set(a.map((x) => x.url));
  const differ: string[] = [];
  let compared = 0;
  let ok = 0;
  for (const x of a) {
    if (PROCESS_ROUTES.has(x.url)) continue;
    compared++;
    if (/^GET [^\n]*\n200 /.test(x.shown)) ok++;
    const y = byUrl.get(x.url);
    if (y === undefined) differ.push(`${x.url}: asked of SQLite only (a page PostgreSQL's cursor did not lead to)`);
    else if (x.shown !== y) differ.push(`${x.url}: ${firstDifference(x.shown, y)}`);
  }
  for (const y of b) if (!PROCESS_ROUTES.has(y.url) && !inA.has(y.url)) differ.push(`${y.url}: asked of PostgreSQL only`);
  return { listed: urls.length, compared, ok, identical: compared - differ.filter((d) => !d.includes(': asked of PostgreSQL only')).length, differ, sqlite: new Map(a.map((x) => [x.url, x.shown])) };
}

export function describeComparison(c: Comparison): string {
  const head = `${c.listed} routes listed, ${c.compared} answers compared (${c.ok} of them 200), ${c.identical} identical, ${c.differ.length} differ`;
  return c.differ.length ? `${head}:\n${c.differ.slice(0, 40).join('\n')}${c.differ.length > 40 ? `\n… ${c.differ.length - 40} more` : ''}` : head;
}

/** The JSON body of one of the SQLite side's answers. */
export function bodyOf<T>(c: Comparison, url: string): T {
  const shown = c.sqlite.get(url);
  if (shown === undefined) throw new Error(`${url} was not asked`);
  return JSON.parse(shown.slice(shown.indexOf('\n\n') + 2)) as T;
}

/** Tables that are a spool's own business (src/storage/spool.ts), not the history. */
const LOCAL = new Set(['migrations', 'meta', 'sqlite_sequence', 'ship_log', 'ship_mute']);

/**
 * Every row of the PostgreSQL database `url` into a new SQLite store `file` (migrated by the app's
 * own migrations), values as the app's PostgreSQL reader sees them. The content-hash indexes of
 * of_rule, logical_flow_snapshot and ovn_object become plain, as in PostgreSQL's schema: each
 * chassis keeps its own row of a rule or flow they both met. Returns the rows copied per table.
 */
export async function copyPostgresToSqlite(url: string, file: string): Promise<Record<string, number>> {
  const ds = new DataSource({ ...dataSourceOptions(file), migrationsRun: true });
  await ds.initialize();
  await ds.runMigrations();
  await ds.destroy();
  const db = new Database(file);
  const pg = new Client({ connectionString: url, types: sqliteLikeTypes });
  await pg.connect();
  const rows: Record<string, number> = {};
  try {
    for (const ix of db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql LIKE 'CREATE UNIQUE INDEX%' AND tbl_name IN ('of_rule', 'logical_flow_snapshot', 'ovn_object')`).all() as Array<{ name: string; sql: string }>) {
      db.exec(`DROP INDEX "${ix.name}"`);
      db.exec(ix.sql.replace('CREATE UNIQUE INDEX', 'CREATE INDEX'));
    }
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as Array<{ name: string }>)
      .map((r) => r.name)
      .filter((n) => !LOCAL.has(n));
    for (const t of tables) {
      const cols = (db.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY cid`).all(t) as Array<{ name: string }>).map((c) => c.name);
      const q = cols.map((c) => `"${c}"`).join(', ');
      const got = (await pg.query({ text: `SELECT ${q} FROM "${t}"`, rowMode: 'array' })).rows as unknown[][];
      const insert = db.prepare(`INSERT INTO "${t}" (${q}) VALUES (${cols.map(() => '?').join(', ')})`);
      db.transaction(() => {
        for (const r of got) insert.run(...r);
      })();
      rows[t] = got.length;
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    await pg.end();
    db.close();
  }
  return rows;
}
