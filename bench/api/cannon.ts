// autocannon in a child process: the load generator gets its own event loop (and the second core),
// so it does not steal the app's (a worker thread does not do: autocannon treats a worker thread as
// one of its own workers). Each request takes a random URL from the list.
import { spawn } from 'node:child_process';

export interface CannonResult {
  requests: number;
  perS: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

const WORKER = `
const workerData = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const autocannon = require(workerData.autocannon);
const { url, paths, connections, duration, seed } = workerData;
let s = seed >>> 0;
const rnd = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
autocannon({ url, connections, duration, requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths[Math.floor(rnd() * paths.length)] }) }] }, (err, r) => {
  if (err) throw err;
  const L = r.latency || {}, Q = r.requests || {};
  process.stdout.write(JSON.stringify({ requests: Q.total, perS: Q.average, p50: L.p50, p90: L.p90, p99: L.p99, max: L.max, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts }));
});
`;

export function cannon(url: string, paths: string[], opts: { connections?: number; duration?: number; seed?: number } = {}): Promise<CannonResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', WORKER], { stdio: ['pipe', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(text) as CannonResult) : reject(new Error(`autocannon exited ${code}`))));
    child.stdin.end(
      JSON.stringify({ autocannon: require.resolve('autocannon'), url, paths, connections: opts.connections ?? 8, duration: opts.duration ?? 10, seed: opts.seed ?? 7 }),
    );
  });
}
