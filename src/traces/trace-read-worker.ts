// The trace reader worker's thread: runs `GET /traces` queries on a read-only connection of its own
// and answers each with the response body, already JSON. A 100 kB page is tens of ms of SQLite and
// object building plus its JSON.stringify; on the service's event loop that time was taken from the
// poller and the tracer (issue 18 #7: under 8 readers, traces were stored 1.7 s p50 / 5.5 s p99 after
// their flow's first sight; bench/api/RESULTS-tracing.md). Started by TraceReadWorker (trace-read-pool.ts).
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { openReadConnection } from '../storage/read-connection';
import { SqliteReader } from '../storage/sql';
import { TraceListQuery, TraceReadStore } from './trace-read-store';

export interface ReadRequest {
  id: number;
  query: TraceListQuery;
}

/** The body as UTF-8 bytes, its buffer transferred: posting the 100 kB string itself cost 1.7 ms a page (cloned). */
export type ReadReply = { id: number; body: Uint8Array } | { id: number; error: string };

/**
 * Nice 10 for this thread only (Linux: setpriority on a thread id applies to that thread): when the
 * cores are busy, the main thread (poller, tracer, writer) wins them over the readers. Measured in
 * bench/api/RESULTS-tracing.md; without it the reads still took the tracer's CPU on 2 cores.
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (tid > 0) setPriority(tid, 10);
  } catch {
    // Not Linux, or not allowed: the reader runs at the process's priority.
  }
}

const port = parentPort;
if (port) {
  lowerPriority();
  const db = openReadConnection((workerData as { file: string }).file);
  // SQLite only: the store's reads are async (one SqlReader for both databases), but on SQLite each
  // statement answers at once. PostgreSQL pages run in the main process (traces.service.ts).
  const reader = new TraceReadStore(new SqliteReader(db));
  const encoder = new TextEncoder();
  port.on('message', async (m: ReadRequest) => {
    let body: Uint8Array;
    try {
      body = encoder.encode(JSON.stringify(await reader.list(m.query)));
    } catch (err) {
      port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) } satisfies ReadReply);
      return;
    }
    port.postMessage({ id: m.id, body } satisfies ReadReply, [body.buffer as ArrayBuffer]);
  });
}
