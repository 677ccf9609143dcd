// `ovn-livetrace traces PORT --follow` when its stream is cut and resumed, against an HTTP server
// answering as the service's GET /traces/stream does (src/traces/stream-position.ts): a plain
// trace id (the client's first Last-Event-ID, the newest of its listing) resumes the other writer
// slots a reorder window earlier, so a trace already listed may come again; a resume past 500
// traces sends `event: gap`. The connection is cut as a killed service or a dropped link cuts it:
// the socket closes in the middle of the chunked response (no end).
import { ChildProcess, spawn } from 'node:child_process';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { waitFor } from '../../support/wait';

const ROOT = resolve(__dirname, '../../..');
const CLI = ['-r', join(ROOT, 'test/support/swc-register.js'), join(ROOT, 'src/cli/main.ts')];
const trace = (id: number) => ({ id, createdAt: '2026-12-07T12:00:00.000Z', chassis: 'hv1', flow: `udp,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_src=${40000 + id},tp_dst=9`, verdict: { kinds: ['output'], logicalPorts: ['lsp2'], logicalFlow: null, northbound: null } });
const event = (id: string, t: object) => `id: ${id}\nevent: trace\ndata: ${JSON.stringify(t)}\n\n`;

describe('traces --follow', () => {
  let server: Server;
  let child: ChildProcess | undefined;
  const streams: IncomingMessage[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url!.startsWith('/traces/stream')) {
        streams.push(req);
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        if (streams.length === 1) {
          // Slot 0's trace 11, listed already, again (another slot's window); then 13, then the link drops.
          res.write(event('11', trace(11)) + event('13', trace(13)));
          setImmediate(() => req.socket.destroy());
        } else {
          res.write(`event: gap\ndata: ${JSON.stringify({ after: 13, before: 600, message: 'more than 500 traces since 13: the oldest were skipped (GET /traces has them)' })}\n\n`);
          res.write(event('600', trace(600)));
        }
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ items: [trace(12), trace(11)], next: null }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    // The CLI waited for, not just signalled: still running when this was a worker's last file, it
    // kept the worker alive past jest's end ("A worker process has failed to exit gracefully").
    if (child && child.exitCode === null && child.signalCode === null) {
      const closed = new Promise((r) => child!.once('close', r));
      child.kill();
      await closed;
    }
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    expect(child?.exitCode ?? child?.signalCode).not.toBeNull();
  });

  it('reconnects after a cut with Last-Event-ID, prints each trace once, and says on stderr which were skipped', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    child = spawn(process.execPath, [...CLI, 'traces', 'lsp1', '--follow', '--json'], { cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', LIVETRACE_URL: url, LIVETRACE_API_TOKEN: '' } });
    let out = '';
    let err = '';
    let exited: number | null | undefined;
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    child.on('exit', (code) => (exited = code));
    await waitFor('trace 600, or the client gone', () => exited !== undefined || out.includes('"id":600'), 60_000);
    // Before: the cut ended the client, exit status 0, nothing said.
    expect({ exited, err }).toMatchObject({ exited: undefined });
    expect(streams.map((r) => r.headers['last-event-id'])).toEqual(['12', '13']);
    expect(out.trim().split('\n').map((l) => JSON.parse(l).id)).toEqual([11, 12, 13, 600]);
    expect(err).toContain('more than 500 traces since 13: the oldest were skipped (GET /traces has them)');
    // Past the wait's 60 s: a CLI slow to start under load fails naming what was awaited, not jest's timeout.
  }, 90_000);
});
