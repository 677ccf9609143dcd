// The request log (src/common/request-log.ts): one line a request when it ends, the request in it
// with its credentials redacted, error level only for a server error. A line logged while a request
// runs carries the request's id only: the request itself is serialized for its completion line,
// not for the per-request logger every request gets, which at LIVETRACE_LOG_LEVEL=warn or error
// writes nothing (bench/api/RESULTS-postgres.md, stop 43).
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pinoHttp } from 'pino-http';
import { requestLogOptions } from '../../../src/common/request-log';

const TOKEN = 'secret-token-1234';

/** A real loopback server behind the request log; `handle` answers each request. */
async function serve(level: string, handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(...chunk.toString('utf8').trim().split('\n').map((l) => JSON.parse(l))), done()) });
  const log = pinoHttp(requestLogOptions(level), sink);
  const server: Server = createServer((req, res) => log(req, res, () => handle(req, res)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) =>
      httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => (res.resume(), res.on('end', () => resolve(res.statusCode!)))).on('error', reject).end(),
    );
  return { lines, get, close: () => new Promise((r) => server.close(r)) };
}

it('a line logged during a request names it by id; its completion line holds the request, credentials redacted', async () => {
  const s = await serve('info', (req, res) => {
    (req as IncomingMessage & { log: { warn(msg: string): void } }).log.warn('inside the request');
    res.end('ok');
  });
  try {
    expect(await s.get('/traces?logical_port=lsp1', { Authorization: `Bearer ${TOKEN}`, Cookie: `c=${TOKEN}` })).toBe(200);
    await new Promise((r) => setImmediate(r));
    const inside = s.lines.find((l) => l.msg === 'inside the request')!;
    const done = s.lines.find((l) => l.msg === 'request completed')!;
    expect(inside).toBeDefined();
    expect(inside.req).toBeUndefined();
    expect(typeof inside.reqId).toBe('number');
    expect(done).toMatchObject({ level: 30, reqId: inside.reqId, req: { id: inside.reqId, method: 'GET', url: '/traces?logical_port=lsp1' }, res: { statusCode: 200 } });
    expect(done.req).toMatchObject({ headers: { authorization: '<redacted>', cookie: '<redacted>' } });
    expect(JSON.stringify(s.lines)).not.toContain(TOKEN);
  } finally {
    await s.close();
  }
});

it('a server error is an error line with the request; health probes are not logged', async () => {
  const s = await serve('info', (req, res) => {
    res.statusCode = req.url === '/fails' ? 500 : 200;
    res.end();
  });
  try {
    expect(await s.get('/fails', { Authorization: `Bearer ${TOKEN}` })).toBe(500);
    expect(await s.get('/health')).toBe(200);
    await new Promise((r) => setImmediate(r));
    expect(s.lines).toHaveLength(1);
    expect(s.lines[0]).toMatchObject({ level: 50, req: { method: 'GET', url: '/fails', headers: { authorization: '<redacted>' } }, res: { statusCode: 500 } });
  } finally {
    await s.close();
  }
});

it('at level error a request that succeeds writes nothing', async () => {
  const s = await serve('error', (_req, res) => res.end('ok'));
  try {
    expect(await s.get('/traces')).toBe(200);
    await new Promise((r) => setImmediate(r));
    expect(s.lines).toEqual([]);
  } finally {
    await s.close();
  }
});
