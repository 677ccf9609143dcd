// What the terminal client says when the service cannot answer: every command in the same words
// (where it tried, what to set), on stderr, with exit status 1; and when its reader goes away
// (`| head`): nothing, as any command of a pipeline.
import { execFile, spawn } from 'node:child_process';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');
const CLI = ['-r', join(ROOT, 'test/support/swc-register.js'), join(ROOT, 'src/cli/main.ts')];
const cli = (args: string[], url: string) =>
  new Promise<{ code: number; out: string; err: string }>((done) =>
    execFile(process.execPath, [...CLI, ...args], { cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', LIVETRACE_URL: url, LIVETRACE_API_TOKEN: '' } }, (e, out, err) => done({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out, err })),
  );

describe('the client when the service cannot answer', () => {
  let server: Server;
  let url: string;
  let closed: string;

  beforeAll(async () => {
    // As the API answers without its token (src/common/http-edge.ts).
    server = createServer((req, res) => {
      if (!req.url!.startsWith('/traces?')) return void res.writeHead(401, { 'Content-Type': 'application/json' }).end(JSON.stringify({ statusCode: 401, message: 'a bearer token is required' }));
      // A page far larger than a pipe's buffer (64 KiB): the client is still writing when its reader leaves.
      const items = Array.from({ length: 500 }, (_, i) => ({ id: 1000 - i, createdAt: '2026-12-07T12:00:00.000Z', chassis: 'hv1', flow: `udp,nw_src=10.0.0.1,nw_dst=10.0.0.2,${'x'.repeat(1000)}`, verdict: { kinds: ['output'], logicalPorts: ['lsp2'], logicalFlow: null, northbound: null } }));
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ items, next: null }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A port nothing listens on: one just freed.
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    closed = `http://127.0.0.1:${(gone.address() as AddressInfo).port}`;
    await new Promise((r) => gone.close(r));
  });
  afterAll(async () => new Promise((r) => server.close(r)));

  it.each([[['trace', '5']], [['session', 'stop', '5']]])('%j with no service says where it tried', async (args) => {
    const r = await cli(args, closed);
    expect(r).toEqual({ code: 1, out: '', err: `ovn-livetrace: cannot reach ${closed}: ECONNREFUSED (--url or LIVETRACE_URL)\n` });
  });

  it.each([[['trace', '5']], [['session', 'stop', '5']]])('%j without the token says to set it', async (args) => {
    const r = await cli(args, url);
    expect(r).toEqual({ code: 1, out: '', err: 'ovn-livetrace: a bearer token is required (set LIVETRACE_API_TOKEN)\n' });
  });

  it('traces | head -1: the reader gone, the client stops without a word, status 0', async () => {
    const child = spawn(process.execPath, [...CLI, 'traces', 'lsp1', '-n', '500', '--json'], { cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', LIVETRACE_URL: url, LIVETRACE_API_TOKEN: '' } });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    // As head does: the first line read, the pipe closed.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise((r) => child.on('close', r));
    // Before: 'Error: write EPIPE' and its stack, status 1.
    expect({ code, err }).toEqual({ code: 0, err: '' });
  });
});
