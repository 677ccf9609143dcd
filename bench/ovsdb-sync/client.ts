/**
 * One measured side of bench/ovsdb-sync, run in its own process so that its peak RSS is its own.
 * Times are taken inside the process from "connect" to "initial monitor reply received and
 * decoded", so Node's start-up and module loading are not counted.
 *
 *   node client.js MODE REMOTE TABLES_JSON
 *     raw      the physical limit: send the same monitor_cond_since request, count the reply's
 *              bytes until it ends (depth counting aware of strings, no JSON.parse)
 *     naive    read every byte of the reply, then one Buffer.concat + JSON.parse
 *     wire     ours: syncInitial() from src/ovsdb (splitter + JSON-RPC connection + client)
 *     replica  ours: ReplicaFollower + Replica on SOUTHBOUND (decoded rows, indexes), until waitSynced
 *     save     not measured: writes the raw reply's bytes to stdout (input of offline.ts)
 *
 * Prints one JSON line: {mode, seconds, tailSeconds, spanSeconds, bytes, rows, maxRssKb, heapUsedMb}.
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { syncInitial } from '../../src/ovsdb/sync';
import { Replica } from '../../src/ovsdb/replica/replica';
import { ReplicaFollower } from '../../src/ovsdb/replica/follower';
import { SOUTHBOUND } from '../../src/replicas/ovn-tables';

const DB = 'OVN_Southbound';

// When the last byte arrived, whichever side's socket it came on: "tail" = done - last byte is the
// client's own cost after the server finished sending (ovsdb-server builds the whole reply before
// its first byte, so the time to the last byte is the server's, and varies with its load).
let lastDataAt = 0;
// The reply's first byte: the first data after the last silence of 300 ms or more (the server's
// composing). "span" = done - that: the client's time once the server starts sending, which with
// streamed rows includes parsing while the bytes arrive (the tail alone is then near zero).
let replyStartAt = 0;
const socketEmit = net.Socket.prototype.emit;
net.Socket.prototype.emit = function (this: net.Socket, event: string | symbol, ...args: unknown[]): boolean {
  if (event === 'data') {
    const now = performance.now();
    if (now - lastDataAt >= 300) replyStartAt = now;
    lastDataAt = now;
  }
  return (socketEmit as (...a: unknown[]) => boolean).apply(this, [event, ...args]);
} as typeof socketEmit;
const ZERO_TXN = '00000000-0000-0000-0000-000000000000';

type Tables = Record<string, string[]>;

interface Outcome {
  bytes: number;
  rows: number;
}

function monitorRequest(tables: Tables, id: string): string {
  const requests: Record<string, { columns: string[] }> = {};
  for (const [t, columns] of Object.entries(tables)) requests[t] = { columns };
  return JSON.stringify({ method: 'monitor_cond_since', params: [DB, id, requests, ZERO_TXN], id: 1 });
}

function connect(remote: string): net.Socket {
  if (remote.startsWith('unix:')) return net.connect({ path: remote.slice(5) });
  const m = /^tcp:(.+):(\d+)$/.exec(remote);
  if (!m) throw new Error(`unsupported remote ${remote}`);
  return net.connect({ host: m[1], port: Number(m[2]) });
}

/**
 * Depth counter over a byte stream, string- and escape-aware: the least work that can still tell
 * where a concatenated JSON message ends. Returns the index after the message's last byte, or -1.
 */
class EndFinder {
  private depth = 0;
  private inString = false;
  private escape = false;
  private started = false;

  feed(b: Buffer): number {
    let depth = this.depth;
    let inString = this.inString;
    let escape = this.escape;
    const len = b.length;
    for (let i = 0; i < len; i++) {
      const c = b[i];
      if (inString) {
        if (escape) escape = false;
        else if (c === 0x5c) escape = true;
        else if (c === 0x22) inString = false;
      } else if (c === 0x22) inString = true;
      else if (c === 0x7b || c === 0x5b) {
        depth++;
        this.started = true;
      } else if ((c === 0x7d || c === 0x5d) && --depth === 0 && this.started) {
        this.depth = 0;
        return i + 1;
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escape = escape;
    return -1;
  }
}

/** raw / naive: one monitor request, the reply read by hand. */
function readReply(remote: string, tables: Tables, parse: boolean, sink?: (b: Buffer) => void): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const sock = connect(remote);
    const finder = new EndFinder();
    const chunks: Buffer[] = [];
    let bytes = 0;
    sock.on('error', reject);
    sock.on('connect', () => sock.write(monitorRequest(tables, parse ? 'naive' : 'raw')));
    sock.on('data', (chunk: Buffer) => {
      const end = finder.feed(chunk);
      const part = end < 0 ? chunk : chunk.subarray(0, end);
      bytes += part.length;
      if (parse) chunks.push(part);
      sink?.(part);
      if (end < 0) return;
      sock.destroy();
      let rows = 0;
      if (parse) {
        const msg = JSON.parse(Buffer.concat(chunks, bytes).toString('utf8')) as { result: [boolean, string, Record<string, object>] };
        for (const t of Object.values(msg.result[2] ?? {})) rows += Object.keys(t).length;
      }
      resolve({ bytes, rows });
    });
  });
}

async function wire(remote: string, tables: Tables): Promise<Outcome> {
  const r = await syncInitial(remote, DB, tables);
  return { bytes: r.bytes, rows: r.rows };
}

async function replica(remote: string): Promise<Outcome> {
  const follower = new ReplicaFollower(new Replica(DB, SOUTHBOUND), { remotes: remote }).start();
  await follower.waitSynced();
  const status = follower.getStatus();
  const bytes = follower.session.connection?.bytesReceived ?? 0;
  follower.close();
  return { bytes, rows: Object.values(status.rows).reduce((a, b) => a + b, 0) };
}

async function main(): Promise<void> {
  const [mode, remote, tablesFile] = process.argv.slice(2);
  const tables = JSON.parse(readFileSync(tablesFile, 'utf8')) as Tables;
  if (mode === 'save') {
    const parts: Buffer[] = [];
    await readReply(remote, tables, false, (b) => parts.push(Buffer.from(b)));
    process.stdout.write(Buffer.concat(parts), () => process.exit(0));
    return;
  }
  const t0 = performance.now();
  let out: Outcome;
  if (mode === 'raw') out = await readReply(remote, tables, false);
  else if (mode === 'naive') out = await readReply(remote, tables, true);
  else if (mode === 'wire') out = await wire(remote, tables);
  else if (mode === 'replica') out = await replica(remote);
  else throw new Error(`unknown mode ${mode}`);
  const done = performance.now();
  const seconds = (done - t0) / 1000;
  const tailSeconds = (done - lastDataAt) / 1000;
  const spanSeconds = (done - replyStartAt) / 1000;
  const heapUsedMb = process.memoryUsage().heapUsed / 1048576;
  // maxRSS is in kilobytes; same number /usr/bin/time -f %M reports.
  console.log(JSON.stringify({ mode, seconds, tailSeconds, spanSeconds, ...out, maxRssKb: process.resourceUsage().maxRSS, heapUsedMb }));
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
