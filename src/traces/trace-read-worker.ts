// A trace reader worker's thread: runs `GET /traces` queries on a connection of its own (a read-only
// SQLite connection on the store's file, or a small pg pool on the central PostgreSQL) and answers
// each with the response body, already JSON. A 100 kB page is milliseconds of reading, object
// building and JSON.stringify: off the event loop, the service's poller, tracer and HTTP edge keep
// it (issue 18 #7: under 8 readers, traces were stored 1.7 s p50 / 5.5 s p99 after their flow's
// first sight; bench/api/RESULTS-tracing.md), and an api instance's pages use more than one core.
// Started by TraceReadPool (trace-read-pool.ts).
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { Pool } from 'pg';
import { pgPoolOptions } from '../storage/postgres';
import { openReadConnection } from '../storage/read-connection';
import { PgReader, SqliteReader, SqlReader } from '../storage/sql';
import { TraceListQuery, TraceReadStore } from './trace-read-store';

/** Where a worker reads: the SQLite file, or the central PostgreSQL (migrated by the main thread). */
export type ReadSource = { sqlite: string } | { postgres: string; poolSize: number };

export interface ReadWorkerData {
  source: ReadSource;
  /** Nice 10 for this thread: the process also runs the tracer, which must win the cores. */
  lowPriority: boolean;
}

export interface ReadRequest {
  id: number;
  query: TraceListQuery;
}

/** The body as UTF-8 bytes, its buffer transferred: posting the 100 kB string itself cost 1.7 ms a page (cloned). */
export type ReadReply = { id: number; body: Uint8Array } | { id: number; error: string; code?: string };

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
  const reader = new TraceReadStore(openReader(data.source));
  const encoder = new TextEncoder();
  port.on('message', async (m: ReadRequest) => {
    let body: Uint8Array;
    try {
      body = encoder.encode(JSON.stringify(await reader.list(m.query)));
    } catch (err) {
      // The code goes along: a lost PostgreSQL (ECONNREFUSED, 57P01, ...) is the API's 503.
      const code = (err as { code?: unknown })?.code;
      port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err), ...(typeof code === 'string' ? { code } : {}) } satisfies ReadReply);
      return;
    }
    port.postMessage({ id: m.id, body } satisfies ReadReply, [body.buffer as ArrayBuffer]);
  });
}
