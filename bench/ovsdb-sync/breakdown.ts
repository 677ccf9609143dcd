/**
 * Where the time of our initial sync goes (run by run.sh after the side-by-side table, or alone):
 * the same monitor_cond_since request through our JsonSplitter with its rows streamed (armRows, as
 * OvsdbClient.monitor does), each stage timed separately, then the decoded reply through
 * Replica.replaceAll.
 *
 *   node breakdown.js REMOTE TABLES_JSON
 * Prints one JSON line of milliseconds (t_* are times since connect).
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { JsonSplitter } from '../../src/ovsdb/json-stream';
import { Replica } from '../../src/ovsdb/replica/replica';
import { SOUTHBOUND } from '../../src/replicas/ovn-tables';
import type { DatabaseSchema, TableUpdates2 } from '../../src/ovsdb/types';

const DB = 'OVN_Southbound';

function connect(remote: string): net.Socket {
  if (remote.startsWith('unix:')) return net.connect({ path: remote.slice(5) });
  const m = /^tcp:(.+):(\d+)$/.exec(remote);
  if (!m) throw new Error(`unsupported remote ${remote}`);
  return net.connect({ host: m[1], port: Number(m[2]) });
}

/** Sends requests one after another on one socket; resolves each framed reply as a Buffer. */
interface Stats {
  pushMs: number;
  rowsMs: number;
  batches: number;
  chunks: number;
  firstByte: number;
  lastByte: number;
}

function exchange(sock: net.Socket, stats: Stats, splitter: JsonSplitter) {
  const waiting: Array<(b: Buffer) => void> = [];
  sock.on('data', (chunk: Buffer) => {
    const t = performance.now();
    if (!stats.firstByte) stats.firstByte = t;
    stats.lastByte = t;
    stats.chunks++;
    const msgs = splitter.push(chunk);
    stats.pushMs += performance.now() - t;
    for (const m of msgs) waiting.shift()?.(m);
  });
  return (request: object) =>
    new Promise<Buffer>((resolve) => {
      waiting.push(resolve);
      sock.write(JSON.stringify(request));
    });
}

async function main(): Promise<void> {
  const [remote, tablesFile] = process.argv.slice(2);
  const tables = JSON.parse(readFileSync(tablesFile, 'utf8')) as Record<string, string[]>;
  const sock = connect(remote);
  const t0 = performance.now();
  await new Promise((r) => sock.once('connect', r));
  const stats: Stats = { pushMs: 0, rowsMs: 0, batches: 0, chunks: 0, firstByte: 0, lastByte: 0 };
  const splitter = new JsonSplitter();
  const send = exchange(sock, stats, splitter);
  const schema = (JSON.parse((await send({ method: 'get_schema', params: [DB], id: 0 })).toString()) as { result: DatabaseSchema }).result;
  const requests: Record<string, { columns: string[] }> = {};
  for (const [t, columns] of Object.entries(tables)) requests[t] = { columns };
  Object.assign(stats, { pushMs: 0, rowsMs: 0, batches: 0, chunks: 0, firstByte: 0, lastByte: 0 });
  const streamed: Record<string, Record<string, unknown>> = {};
  let bytes = 0;
  splitter.armRows(1, 5, (_id, table, members) => {
    const t = performance.now();
    bytes += members.length;
    const rows = JSON.parse(`{${members.toString('utf8')}}`) as Record<string, unknown>;
    const into = streamed[table];
    if (into === undefined) streamed[table] = rows;
    else for (const uuid in rows) into[uuid] = rows[uuid];
    stats.rowsMs += performance.now() - t;
    stats.batches++;
  });
  const tReq = performance.now();
  const buf = await send({ method: 'monitor_cond_since', params: [DB, 'b', requests, '00000000-0000-0000-0000-000000000000'], id: 1 });
  const msg = JSON.parse(buf.toString('utf8')) as { result: [boolean, string, TableUpdates2] };
  Object.assign(msg.result[2], streamed);
  const tParsed = performance.now();
  bytes += buf.length;
  sock.destroy();

  const replica = new Replica(DB, SOUTHBOUND);
  replica.configure(schema);
  const tCfg = performance.now();
  replica.replaceAll(msg.result[2]);
  const tReplica = performance.now();
  const rows = Object.values(replica.counts()).reduce((a, b) => a + b, 0);
  console.log(
    JSON.stringify({
      bytes,
      chunks: stats.chunks,
      row_batches: stats.batches,
      rows,
      request_to_first_byte: stats.firstByte - tReq,
      first_to_last_byte: stats.lastByte - stats.firstByte,
      splitter_push_total_without_rows: stats.pushMs - stats.rowsMs,
      rows_parse_total: stats.rowsMs,
      last_byte_to_reply_parsed: tParsed - stats.lastByte,
      replica_replaceAll: tReplica - tCfg,
      t_connect_to_reply_parsed: tParsed - t0,
      t_connect_to_replica: tReplica - t0,
      heapUsedMb: process.memoryUsage().heapUsed / 1048576,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
