/**
 * Where a `node --cpu-prof` profile's time went: self time by part of the stack (the HTTP server,
 * express, Nest, the routes' own code, SQLite, pg, JSON, GC, idle) and the top functions by self
 * time, in ms per request when given the request count. The profiler samples wall time on the thread:
 * a thread waiting for a core (2 cores, autocannon and PostgreSQL beside it) or woken peers in a
 * syscall counts where it stood, so the parts are shares of busy time, and CPU per request is
 * measured apart (/proc, process.cpuUsage). Not a reported number: the breakdown behind
 * bench/api/RESULTS-postgres.md's "stop 20: CPU per request".
 *
 * Usage: node -r ts-node/register/transpile-only bench/api/prof-summary.ts FILE.cpuprofile [REQUESTS [TOP=25]]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The part of the stack a frame belongs to, by its file (first match wins). */
const PARTS: Array<[string, (url: string, fn: string) => boolean]> = [
  ['idle', (_u, f) => f === '(idle)'],
  ['gc', (_u, f) => f === '(garbage collector)'],
  ['program (native, unattributed)', (_u, f) => f === '(program)'],
  ['JSON (stringify/parse builtins)', (u, f) => !u && /^(stringify|parse|JSONStringify|JSONParse)$/.test(f)],
  // Native frames by name: better-sqlite3's statement calls (the SQL and the row values), the socket
  // writes (the kernel's loopback send, the receiver's wake-up), the ETag's hash.
  ['SQLite native (statement + row values)', (u, f) => !u && /^(all|get|run|iterate)$/.test(f)],
  ['socket writes (writev, kernel)', (u, f) => !u && /^(writev|writeBuffer|writeUtf8String|writeLatin1String)$/.test(f)],
  ['ETag hash (express send)', (u, f) => !u && /^(update|digest)$/.test(f)],
  // Express's own stringify wraps JSON.stringify (res.json): the serialisation of a returned object.
  ['res.json: JSON.stringify (express)', (u, f) => f === 'stringify' && u.includes('express/lib/response')],
  ['better-sqlite3', (u) => u.includes('better-sqlite3')],
  ['pg / pg-protocol', (u) => /node_modules\/(pg|pg-protocol|pg-pool|pg-types|postgres-)/.test(u)],
  ['express / router / send / etag', (u) => /node_modules\/(express|router|send|etag|finalhandler|body-parser|qs|content-type|mime|on-finished|fresh|serve-static|parseurl|path-to-regexp|type-is|accepts|negotiator|statuses|depd|cookie|proxy-addr|forwarded|vary|encodeurl|escape-html|ipaddr)/.test(u)],
  ['nest core / common / platform-express', (u) => u.includes('@nestjs')],
  ['pino / nestjs-pino', (u) => /node_modules\/(pino|nestjs-pino|pino-http|pino-std-serializers|sonic-boom|thread-stream)/.test(u)],
  ['rxjs', (u) => u.includes('node_modules/rxjs')],
  ['typeorm', (u) => u.includes('node_modules/typeorm')],
  ['other node_modules', (u) => u.includes('node_modules')],
  ['src: traces', (u) => u.includes('/src/traces/')],
  ['src: logical-flows', (u) => u.includes('/src/logical-flows/')],
  ['src: storage', (u) => u.includes('/src/storage/')],
  ['src: common (edge, query, errors)', (u) => u.includes('/src/common/')],
  ['src: other', (u) => u.includes('/src/')],
  ['node: http / net / stream', (u) => /^node:(_http|http|net|stream|internal\/(http|streams|stream_base|net|js_stream))|^node:internal\/(http|streams)/.test(u) || /node:internal\/(stream|http)/.test(u)],
  ['node: other internals', (u) => u.startsWith('node:')],
  ['builtins (no file)', (u) => !u],
  ['other', () => true],
];

function main() {
  const [file, reqArg, topArg] = process.argv.slice(2);
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const requests = Number(reqArg ?? 0);
  const top = Number(topArg ?? 25);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  const totalMs = (p.endTime - p.startTime) / 1000;
  const parts = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, ms] of self) {
    const { functionName: f, url, lineNumber } = byId.get(id)!.callFrame;
    const part = PARTS.find(([, test]) => test(url, f))![0];
    parts.set(part, (parts.get(part) ?? 0) + ms);
    const short = url.replace(/^.*\/node_modules\//, '').replace(/^.*\/src\//, 'src/').replace(/^file:\/\//, '');
    const key = `${f || '(anonymous)'} ${short}:${lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + ms);
  }
  const busy = totalMs - (parts.get('idle') ?? 0);
  const per = (ms: number) => (requests ? `${((ms / requests) * 1000).toFixed(0).padStart(5)} µs/req` : '');
  console.log(`${file}: ${totalMs.toFixed(0)} ms profiled, ${busy.toFixed(0)} ms busy${requests ? `, ${requests} requests: ${(busy / requests).toFixed(3)} ms busy a request` : ''}`);
  for (const [k, ms] of [...parts].sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(40)} ${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / busy).toFixed(1).padStart(5)} % of busy ${per(ms)}`);
  // Inclusive time: each sample counted once for every distinct function on its stack.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (id: number) => {
    const { functionName: f, url, lineNumber } = byId.get(id)!.callFrame;
    const short = url.replace(/^.*\/node_modules\//, '').replace(/^.*\/src\//, 'src/').replace(/^file:\/\//, '');
    return `${f || '(anonymous)'} ${short}:${lineNumber + 1}`;
  };
  const incl = new Map<string, number>();
  for (const [id, ms] of self) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) seen.add(keyOf(at));
    for (const k of seen) incl.set(k, (incl.get(k) ?? 0) + ms);
  }
  console.log(`top ${top} functions by inclusive time (the src/ ones and their callees; INCLUSIVE=regex to choose):`);
  const want = new RegExp(process.env.INCLUSIVE ?? 'src/|stringify|json|send|parse');
  for (const [k, ms] of [...incl].filter(([k]) => want.test(k)).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${ms.toFixed(0).padStart(6)} ms ${((100 * ms) / busy).toFixed(1).padStart(5)} % ${per(ms)}  ${k}`);
  console.log(`top ${top} functions by self time:`);
  for (const [k, ms] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${ms.toFixed(0).padStart(6)} ms ${((100 * ms) / busy).toFixed(1).padStart(5)} % ${per(ms)}  ${k}`);
}

main();
