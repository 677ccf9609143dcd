// A client of the central pool that cannot hang or end the process: PostgreSQL going away emits
// 'error' on a checked-out client (heard), a connection that falls silent is given up, and a client
// whose work failed is dropped from the pool. What the shipper's batches and session pulls, the
// central retention's rounds, the API's reads (sql.ts PgReader) and /health's ping use.
import type { Socket } from 'node:net';
import type { Client, Pool, PoolClient } from 'pg';

/**
 * PostgreSQL answers a statement, or cancels it, within its statement_timeout (30 s, postgres.ts).
 * A connection that moves no byte for twice that while a statement of ours is on it has lost its
 * server without a word (a partition that ate the answer, a frozen host): nothing else would end
 * the wait (TCP keepalive: about two hours), and the shipper's loop, the backlog and the spool's
 * bound would stand still meanwhile.
 */
export const SILENT_MS = 60_000;

/**
 * Now by PostgreSQL's clock, as the ISO text of writer_slot's times (heard_at, claimed_at): the
 * retention and the slot claims (slot-take.ts) compare them with that clock, and an agent's clock
 * running hours behind made a live slot read as silent (test/postgres/central-retention-silent-slot.spec.ts).
 * now() is the transaction's start: heard_at and a traced_through it bounds, in one UPDATE, are equal.
 */
export const PG_NOW = pgIsoText('now()');

/** A timestamptz SQL expression as the ISO text (UTC, milliseconds, Z) writer_slot's times are kept in. */
export function pgIsoText(expr: string): string {
  return `to_char((${expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** The client's socket (pg keeps it on its connection, not in its typings); undefined before it connects. */
const socketOf = (client: PoolClient | Client): Socket | undefined => (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;

/**
 * Destroys the client's connection when no byte moves on it for `ms`, or when `abandon` is aborted
 * (a stop: what the statement waits for is not worth waiting for, its outcome unknown as after a
 * silence); returns the undo.
 */
function dropWhenSilent(client: PoolClient | Client, ms: number, abandon?: AbortSignal): () => void {
  const stream = socketOf(client);
  if (!stream || typeof stream.setTimeout !== 'function') return () => undefined;
  // ETIMEDOUT: PostgreSQL unreachable to whoever reads the code (the API's 503, api-error.ts storeUnreachable).
  const onTimeout = (): void =>
    void stream.destroy(Object.assign(new Error(`PostgreSQL sent nothing for ${ms / 1000} s on a connection with a statement waiting`), { code: 'ETIMEDOUT' }));
  const onAbandon = (): void => void stream.destroy(abandoned());
  stream.setTimeout(ms);
  stream.on('timeout', onTimeout);
  abandon?.addEventListener('abort', onAbandon);
  return () => {
    stream.setTimeout(0);
    stream.off('timeout', onTimeout);
    abandon?.removeEventListener('abort', onAbandon);
  };
}

const abandoned = (): Error => Object.assign(new Error('abandoned: the process is stopping'), { code: 'ESHUTDOWN' });
/** Work a stop gave up (abandoned above): not a failure to warn of or count; what it had not committed is redone later. */
export const isAbandoned = (err: unknown): boolean => (err as NodeJS.ErrnoException | null)?.code === 'ESHUTDOWN';

/**
 * Whether a client whose work failed with `err` can be handed out again: PostgreSQL itself refused a
 * statement (an ErrorResponse: SQLSTATE `code` and `severity`; the protocol stays in step) on a session
 * left outside any transaction, and not one of the errors that end or doom the session (class 08
 * connection exception, 57P0x shutdown, XX internal, FATAL/PANIC). Anything else (a transaction left
 * open or failed, an error of the caller's own, a connection gone) may have left it unusable.
 */
function reusable(client: PoolClient, err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown };
  if (typeof e?.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code) || typeof e.severity !== 'string') return false;
  if (e.severity !== 'ERROR' || /^(08|57P|XX)/.test(e.code)) return false;
  return client.getTransactionStatus() === 'I';
}

/** Pools whose new clients have an 'error' listener from their start (heardFromTheStart). */
const heard = new WeakSet<Pool>();

/**
 * Every client the pool connects from now on is heard from the moment the pool hands it out ('connect',
 * emitted before the connect's callback, in the read that made its session ready): pool.connect()'s
 * promise settles a microtask later, and a session PostgreSQL ended as it began (a restart's fast
 * shutdown, pg_terminate_backend, idle_session_timeout), its FATAL read together with its ReadyForQuery
 * by a busy event loop, emitted 'error' before withClient listened: no listener, an uncaught exception
 * that ended the process (test/postgres/pg-client.spec.ts). An idle client is the pool's to hear; a
 * failure on one in use is its query's rejection.
 */
function heardFromTheStart(pool: Pool): void {
  if (heard.has(pool)) return;
  heard.add(pool);
  pool.on('connect', (client) => void client.on('error', () => undefined));
}

/**
 * pool.connect(), given up when `abandon` is aborted meanwhile (ESHUTDOWN): across a partition a
 * connect under way waits for pg's connectionTimeoutMillis (5 s), and a stop's hook that awaits the
 * work (RetentionService's shutdown, its round) waited it out before the pool's close could end it
 * (test/postgres/shutdown-retention.spec.ts). The connect itself goes on: a client it still gets is
 * dropped, one it never gets is ended with the pool (endPool).
 */
function connectUnless(pool: Pool, abandon?: AbortSignal): Promise<PoolClient> {
  if (abandon?.aborted) return Promise.reject(abandoned());
  heardFromTheStart(pool);
  const connect = pool.connect();
  if (!abandon) return connect;
  return new Promise((resolve, reject) => {
    const onAbandon = (): void => reject(abandoned());
    abandon.addEventListener('abort', onAbandon, { once: true });
    connect.then(
      (client) => {
        abandon.removeEventListener('abort', onAbandon);
        if (!abandon.aborted) return resolve(client);
        client.release(true);
        reject(abandoned());
      },
      (err: unknown) => {
        abandon.removeEventListener('abort', onAbandon);
        reject(abandon.aborted ? abandoned() : err);
      },
    );
  });
}

/**
 * `fn` on a client of the pool, guarded: a server going away also emits 'error' on the checked-out
 * client (the query's rejection is what counts; unheard, the event would end the process), a
 * connection that falls silent for `silentMs` is given up (dropWhenSilent), and a client whose work
 * failed is dropped, not handed out again, unless the failure was only a statement PostgreSQL refused
 * on a healthy session (reusable: a statement_timeout under load would otherwise cost a new connection
 * each). `drop(err)` drops it too without failing the work: a cleanup that failed quietly (the
 * central retention's unlock) may have left the session unusable. `abandon` aborted (a stop) gives
 * the work up at once, its connection destroyed (dropWhenSilent), and none is taken after it.
 */
export async function withClient<T>(pool: Pool, silentMs: number, fn: (client: PoolClient, drop: (err: Error) => void) => Promise<T>, abandon?: AbortSignal): Promise<T> {
  const client = await connectUnless(pool, abandon);
  const onError = (): void => undefined;
  client.on('error', onError);
  const unwatch = dropWhenSilent(client, silentMs, abandon);
  let broken: Error | undefined;
  try {
    return await fn(client, (err) => (broken ??= err));
  } catch (err) {
    if (!reusable(client, err)) broken ??= err as Error;
    throw err;
  } finally {
    unwatch();
    client.off('error', onError);
    client.release(broken);
  }
}

/**
 * `fn` in one transaction on `client`: committed when it returns, rolled back when it throws (the
 * rollback's own failure left unsaid: the session is broken then, and `fn`'s error is what counts).
 * A transaction that only read commits as a rollback would.
 */
export async function inTransaction<T>(client: Pick<PoolClient, 'query'>, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const out = await fn();
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * One statement (`fn`) on a client of its own, not the pool's (the session-creation lock's: its
 * session holds the lock), given up as withClient's are when its connection moves no byte for
 * `silentMs` meanwhile: the statement rejects (ETIMEDOUT, PostgreSQL unreachable) instead of waiting
 * for good. The client is unusable after that; its owner ends it.
 */
export async function silenceBound<T>(client: Client, silentMs: number, fn: () => Promise<T>): Promise<T> {
  const unwatch = dropWhenSilent(client, silentMs);
  try {
    return await fn();
  } finally {
    unwatch();
  }
}

/**
 * Ends a client of its own (not the pool's) without waiting on the server: pg's end() sends Terminate
 * and then waits for the socket to close, for the server's end of it, which across a partition never
 * comes (no statement waits then, so nothing is bound by silence; TCP keepalive: hours). Terminate
 * and FIN still go out; the socket is closed once they are handed to the kernel, and the server ends
 * the session on reading them, or by its own timeouts (idle_session_timeout).
 */
export async function endClient(client: Client): Promise<void> {
  const ended = client.end().catch(() => undefined);
  const stream = socketOf(client);
  if (stream && !stream.destroyed && !stream.connecting && typeof stream.destroySoon === 'function') stream.destroySoon();
  await ended;
}

/**
 * Ends a pool (`end`: pg's pool.end(), or what ends it, TypeORM's destroy) without waiting on the
 * server for what a stop gave up. pg-pool's end() ends its idle clients and resolves once no client is
 * left: a connect still under way counted until its connectionTimeoutMillis (5 s) across a partition
 * (its startup never answered), on top of the stop's own deadline (ship-stop.ts STOP_FLUSH_MS), and a
 * checked-out client until its owner released it. At the end of a stop nothing awaits either, so
 * their connections are destroyed (ESHUTDOWN: the connect rejects, the work in flight fails and
 * releases), as pg-pool's own connect timeout does, and end() resolves at once
 * (test/postgres/shutdown-connect.spec.ts). Every checked-out client is withClient's, whose 'error' is heard.
 */
export async function endPool(pool: Pool, end: () => Promise<void> = () => pool.end()): Promise<void> {
  const p = pool as unknown as { _clients?: Client[]; _idle?: Array<{ client: Client }> };
  const ended = end();
  const idle = new Set((p._idle ?? []).map((i) => i.client));
  for (const client of p._clients ?? []) if (!idle.has(client)) socketOf(client)?.destroy(abandoned());
  await ended;
}

/**
 * A `.catch` for setting or resetting idle_session_timeout: a server before PostgreSQL 14 has no such
 * setting (42704, a statement refused on a healthy session) and keeps an idle session until its TCP
 * keepalive; anything else stands.
 */
export function olderServer(err: unknown): void {
  if ((err as { code?: string }).code !== '42704') throw err;
}
