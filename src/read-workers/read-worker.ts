// A reader thread: runs `GET /traces` queries and the audits (GET /logical-flows/:uuid/datapath-flows,
// GET /northbound/:table/:uuid/datapath-flows) on a connection of its own (a read-only SQLite
// connection on the store's file, or a small pg pool on the central PostgreSQL) and answers each
// with the response body, already JSON. A 100 kB page is milliseconds of reading, object
// building and JSON.stringify: off the event loop, the service's poller, tracer and HTTP edge keep
// it (issue 18 #7: under 8 readers, traces were stored 1.7 s p50 / 5.5 s p99 after their flow's
// first sight; bench/api/RESULTS-tracing.md), and an api instance's pages use more than one core.
// The audits were the event loop's whole load at 8 connections on SQLite (bench/api/
// RESULTS-postgres.md, stop 20). Started by ReadPool (read-pool.ts).
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { Pool } from 'pg';
import { pgPoolOptions } from '../storage/postgres';
import { openReadConnection } from '../storage/read-connection';
import { PgReader, SqliteReader, SqlReader } from '../storage/sql';
import { AuditQuery, readAudit } from '../logical-flows/logical-flow-store';
import { TraceListQuery, TraceReadStore } from '../traces/trace-read-store';

/** Where a worker reads: the SQLite file, or the central PostgreSQL (migrated by the main thread). */
export type ReadSource = { sqlite: string } | { postgres: string; poolSize: number };

export interface ReadWorkerData {
  source: ReadSource;
  /** Nice 10 for this thread: the process also runs the tracer, which must win the cores. */
  lowPriority: boolean;
}

/** What a thread is asked: a page of traces, or an audit. */
export type ReadJob = { kind: 'traces'; query: TraceListQuery } | { kind: 'audit'; audit: AuditQuery };

export interface ReadRequest {
  id: number;
  job: ReadJob;
}

/**
 * The body as UTF-8 bytes, its buffer transferred: posting the 100 kB string itself cost 1.7 ms a
 * page (cloned). An audit says too whether its row was ever cited (the 404 is the main thread's).
 */
export type ReadReply = { id: number; body: Uint8Array; cited?: boolean } | { id: number; error: string; code?: string };

/**
 * Linux: setpriority on a thread id applies to that thread only. When the cores are busy, the main
 * thread (poller, tracer, writer) wins them over the readers. Measured in bench/api/RESULTS-tracing.md;
 * without it the reads still took the tracer's CPU on 2 cores. An api instance has no tracer: there
 * the readers are the work, and run at the process's priority.
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (tid > 0) setPriority(tid, 10);
  } catch {
    // Not Linux, or not allowed: the reader runs at the process's priority.
  }
}

function openReader(source: ReadSource): SqlReader {
  if ('sqlite' in source) return new SqliteReader(openReadConnection(source.sqlite));
  const pool = new Pool(pgPoolOptions(source.postgres, source.poolSize));
  // An idle connection the server drops must not end the thread: the next query opens another.
  pool.on('error', () => undefined);
  return new PgReader(pool);
}

const port = parentPort;
if (port) {
  const data = workerData as ReadWorkerData;
  if (data.lowPriority) lowerPriority();
  const sql = openReader(data.source);
  const traces = new TraceReadStore(sql);
  const encoder = new TextEncoder();
  const answer = async (job: ReadJob): Promise<{ body: Uint8Array; cited?: boolean }> => {
    if (job.kind === 'traces') return { body: encoder.encode(JSON.stringify(await traces.list(job.query))) };
    const a = await readAudit(sql, job.audit);
    return { body: encoder.encode(a.body), cited: a.cited };
  };
  port.on('message', async (m: ReadRequest) => {
    let reply: { body: Uint8Array; cited?: boolean };
    try {
      reply = await answer(m.job);
    } catch (err) {
      // The code goes along: a lost PostgreSQL (ECONNREFUSED, 57P01, ...) is the API's 503.
      const code = (err as { code?: unknown })?.code;
      port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err), ...(typeof code === 'string' ? { code } : {}) } satisfies ReadReply);
      return;
    }
    port.postMessage({ id: m.id, ...reply } satisfies ReadReply, [reply.body.buffer as ArrayBuffer]);
  });
}
