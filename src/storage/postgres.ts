// The central PostgreSQL database (issue 19): LIVETRACE_DB=postgres://… (or postgresql://). The
// connection is pg's own, through TypeORM (which runs migrations/postgres/); everything pg reads
// from the URL and the usual PG* variables (PGHOST, PGUSER, PGPASSWORD, PGSSLMODE, …) applies, and
// PGSSLROOTCERT / PGSSLCERT / PGSSLKEY name the TLS files as for libpq.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { types } from 'pg';
import type { Pool } from 'pg';
import { DataSource, DataSourceOptions } from 'typeorm';
import { MIGRATION_LOCK_DEFAULTS, migrateUnderLock, MigrationLockOptions } from './pg-migrate';

const ROOT = join(__dirname, '../..');

export function isPostgresUrl(db: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(db.trim());
}

/** The URL with its password hidden: what logs, /health and errors show. */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

/**
 * Values as SQLite gives them, so an answer is the same bytes on both: int8 (bigint columns,
 * COUNT) and numeric (SUM, AVG) as JS numbers. Ids stay below 2^53 by construction (writer slots).
 * Our pool's own parsers: pg's global ones are left alone.
 */
export const sqliteLikeTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === types.builtins.INT8 || oid === types.builtins.NUMERIC) return (v: string) => (v === null ? null : Number(v));
    return types.getTypeParser(oid, format);
  },
};

function tlsFromEnv(): object | undefined {
  const { PGSSLROOTCERT: ca, PGSSLCERT: cert, PGSSLKEY: key, PGSSLMODE: mode } = process.env;
  if (!ca && !cert && !key) return undefined;
  return {
    rejectUnauthorized: mode !== 'require' && mode !== 'no-verify',
    ...(ca ? { ca: readFileSync(ca, 'utf8') } : {}),
    ...(cert ? { cert: readFileSync(cert, 'utf8') } : {}),
    ...(key ? { key: readFileSync(key, 'utf8') } : {}),
  };
}

/**
 * pg's pool options for the central database: TLS from the PG* files, timeouts, keepalive, JIT off,
 * the SQLite-like type parsers. One owner for the TypeORM data source (below) and the trace reader
 * workers' own pools (src/read-workers/read-worker.ts), so both read the same values the same way.
 */
export function pgPoolOptions(url: string, poolSize = 10) {
  const ssl = tlsFromEnv();
  return {
    connectionString: url,
    ...(ssl ? { ssl } : {}),
    types: sqliteLikeTypes,
    max: poolSize,
    // A lost server must not hang a request: connect and statement timeouts, keepalive.
    connectionTimeoutMillis: 5000,
    statement_timeout: 30_000,
    keepAlive: true,
    application_name: 'ovn-livetrace',
    // JIT off (PGOPTIONS after it still decides): the reads are short, and a cost estimate over
    // jit_above_cost (a named statement's generic plan: LIMIT $n unseen) spent ~160 ms compiling a
    // 2 ms audit walk (bench/api/RESULTS-postgres.md).
    options: `-c jit=off ${process.env.PGOPTIONS ?? ''}`.trim(),
  };
}

export function pgDataSourceOptions(url: string, poolSize = 10): DataSourceOptions {
  const isTs = __filename.endsWith('.ts');
  const { connectionString: _url, ssl, ...extra } = pgPoolOptions(url, poolSize);
  return {
    type: 'postgres',
    url,
    ...(ssl ? { ssl } : {}),
    migrations: [join(ROOT, 'migrations', 'postgres', isTs ? '*.ts' : '*.js')],
    migrationsTableName: 'migrations',
    // Each migration in its own transaction, not all in one: a migration that builds an index
    // CONCURRENTLY (transaction = false; storage/pg-index.ts) may not run inside one, and TypeORM
    // refuses mode 'all' when one is pending. Also the typeorm CLI's default through data-source.ts.
    migrationsTransactionMode: 'each',
    synchronize: false,
    extra,
  };
}

/**
 * Opens the central database and brings its schema up to date. `migration`: the configuration's
 * LIVETRACE_PG_MIGRATION_* (central.ts); tests and benches take config/livetrace.env's defaults.
 */
export async function openPostgres(url: string, poolSize?: number, migration: MigrationLockOptions = MIGRATION_LOCK_DEFAULTS): Promise<DataSource> {
  const ds = new DataSource(pgDataSourceOptions(url, poolSize));
  try {
    await ds.initialize();
  } catch (err) {
    throw new Error(`PostgreSQL ${redactUrl(url)}: ${(err as Error).message}`);
  }
  // Several processes may start at once against one new database: one runs the migrations, the
  // others wait for its advisory lock (storage/pg-migrate.ts).
  try {
    await migrateUnderLock(ds, migration);
  } catch (err) {
    // Its connections end with it: a caller that tries again (an agent started while PostgreSQL
    // was away) must not leave a pool behind each time.
    await ds.destroy().catch(() => undefined);
    throw err;
  }
  return ds;
}

/** Connection refused, reset, timed out, no route, no such host: PostgreSQL away, not a wrong schema or password. */
export function pgUnreachable(err: unknown): boolean {
  const m = (err as Error)?.message ?? '';
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ENOENT|timeout exceeded when trying to connect|connection timeout|terminated unexpectedly|the database system is (starting up|shutting down|in recovery mode)/i.test(m);
}

/** pg's pool under a TypeORM postgres data source. */
export function poolOf(ds: DataSource): Pool {
  return (ds.driver as unknown as { master: Pool }).master;
}
