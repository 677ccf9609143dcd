/**
 * What the request log costs a request, before/after in one process (stop 43): pino-http with the
 * options src/app.module.ts had at stop 42 (every request's child logger bound to the request,
 * serialized when the child is made) against src/common/request-log.ts's (bound to its id; the
 * request serialized into its completion line only). A loopback server whose every request goes
 * through the middleware and is answered with a 95 KB body (a port page's size), one keep-alive
 * client in the same process; the two in turn, ROUNDS times, at each level. Per request: the
 * process's CPU (server, client and the log line, written synchronously to /dev/null as the app
 * writes stdout) and the time spent inside the middleware call itself.
 *
 * Usage: node -r ts-node/register/transpile-only bench/api/request-log.ts [REQUESTS=20000 [ROUNDS=4]]
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { Agent, createServer, get, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { pinoHttp, type Options } from 'pino-http';
import { isClientGone } from '../../src/common/api-error';
import { requestLogOptions } from '../../src/common/request-log';

const REQUESTS = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 4);
const BODY = Buffer.alloc(95_000, 'x');

/** src/app.module.ts's pino-http options at stop 42 (cf555c4), the reference. */
const stop42 = (level: string): Options => ({
  level,
  autoLogging: { ignore: (req) => ['/health', '/metrics'].includes(req.url ?? '') },
  redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["proxy-authorization"]', 'res.headers["set-cookie"]'], censor: '<redacted>' },
  customLogLevel: (_req, res, err) => ((err && !isClientGone(err)) || res.statusCode >= 500 ? 'error' : 'info'),
});

/** One round: REQUESTS requests through a server behind these options; CPU µs a request, and inside the middleware. */
async function round(options: Options): Promise<{ cpuUs: number; middlewareUs: number }> {
  const log = pinoHttp(options, pino.destination({ dest: '/dev/null', sync: true }));
  let inside = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const t = performance.now();
    log(req, res);
    inside += performance.now() - t;
    res.setHeader('Content-Type', 'application/json');
    res.end(BODY);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const one = (i: number) =>
    new Promise<void>((resolve, reject) =>
      get({ host: '127.0.0.1', port, agent, path: `/traces?logical_port=t${i % 500}-lsp1`, headers: { Authorization: 'Bearer bench-token', Accept: 'application/json' } }, (res) => {
        res.resume();
        res.on('end', resolve);
      }).on('error', reject),
    );
  for (let i = 0; i < 2000; i++) await one(i); // warm-up: the JIT
  inside = 0;
  const c0 = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) await one(i);
  const c = process.cpuUsage(c0);
  agent.destroy();
  server.close();
  return { cpuUs: (c.user + c.system) / REQUESTS, middlewareUs: (inside * 1000) / REQUESTS };
}

async function main() {
  const out: Record<string, unknown> = { requests: REQUESTS, rounds: ROUNDS, startedAt: new Date().toISOString(), startLoad: loadavg() };
  for (const level of ['error', 'info']) {
    const runs: Record<string, Array<{ cpuUs: number; middlewareUs: number }>> = { stop42: [], now: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, opts] of [['stop42', stop42(level)], ['now', requestLogOptions(level)]] as const) {
        runs[name].push(await round(opts));
        console.log(level, name, r, JSON.stringify(runs[name][r]), 'load1', loadavg()[0].toFixed(1));
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const summary = Object.fromEntries(
      Object.entries(runs).map(([k, v]) => [k, { cpuUs: median(v.map((x) => x.cpuUs)), middlewareUs: median(v.map((x) => x.middlewareUs)) }]),
    );
    console.log(level, 'medians', JSON.stringify(summary));
    out[level] = { runs, medians: summary };
  }
  out.endLoad = loadavg();
  writeFileSync(join(__dirname, 'results-request-log.json'), JSON.stringify(out, null, 2));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
