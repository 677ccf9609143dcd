// One real sandbox for the live UI tests (stream, page, client): the tracer runs in one app, and
// the API that the stream, the page and the client talk to is a second app on the same database
// with no poller, as issue 19's API instances will be: what it streams was written by another
// writer, never announced to it in process.
import { mkdtempSync, rmSync } from 'node:fs';
import { get as httpGet, IncomingMessage } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';

export const TOKEN = 'browser-token-0123456789abcdef';

export const udp = (from: number, to: number, sport: number, dport: number) =>
  `eth(src=50:54:00:00:00:0${from},dst=50:54:00:00:00:0${to}),eth_type(0x0800),ipv4(src=10.0.0.${from},dst=10.0.0.${to},proto=17,tos=0,ttl=64,frag=no),udp(src=${sport},dst=${dport})`;

export interface Live {
  sb: Sandbox;
  tracer: INestApplication;
  api: INestApplication;
  url: string;
  /** The tracer app (no token): where trace sessions run. */
  tracerUrl: string;
  dir: string;
  /** GET on the API with the token, JSON. */
  json(path: string): Promise<any>;
  /** A UDP packet from lsp1 with its own source port: a new datapath flow, so a new trace. */
  send(to: number, sport: number, dport?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startLive(): Promise<Live> {
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-ui-'));
  const dbFile = join(dir, 'livetrace.sqlite');
  const sb = await Sandbox.start();
  let tracer: INestApplication | undefined;
  let api: INestApplication | undefined;
  try {
    await sb.demoTopology();
    tracer = await startApp({ ...sb.env, LIVETRACE_DB: dbFile, LIVETRACE_POLL_INTERVAL_MS: '200', LIVETRACE_POLL_MAX_SHARE: '0.5' });
    api = await startApp({ ...sb.env, LIVETRACE_DB: dbFile, LIVETRACE_POLLER: 'false', LIVETRACE_API_TOKEN: TOKEN });
    await api.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(api.getHttpServer().address() as AddressInfo).port}`;
    const tracerUrl = await tracer.listen(0, '127.0.0.1').then(() => `http://127.0.0.1:${(tracer!.getHttpServer().address() as AddressInfo).port}`);
    const json = async (path: string): Promise<any> => {
      const r = await fetch(url + path, { headers: { Authorization: `Bearer ${TOKEN}` } });
      return r.json();
    };
    await waitFor('tracer healthy', async () => (await fetch(`${tracerUrl}/health`)).status === 200, 60_000);
    const r = await fetch(`${tracerUrl}/trace-sessions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ logicalPort: 'lsp1', includeExisting: true, maxTraces: 1000 }) });
    if (r.status !== 201) throw new Error(`trace session: ${r.status} ${await r.text()}`);
    const ports = await sb.dpPorts();
    const newest = async () => ((await json('/traces?logical_port=lsp1&limit=1')).items?.[0]?.id as number | undefined) ?? 0;
    // The megaflow of an earlier packet may wildcard the ports and catch this one: with the
    // datapath's flows deleted first, this packet makes a new flow, hence a new trace; the next
    // send waits for it, as deleting a flow before the tracer saw it would lose its trace.
    const send = async (to: number, sport: number, dport = 9) => {
      const before = await newest();
      await sb.appctl('dpctl/del-flows');
      await sb.inject('vif1', `in_port(${ports.get('vif1')}),${udp(1, to, sport, dport)}`, 2);
      await waitFor(`a trace of the packet to 10.0.0.${to} port ${dport}`, async () => (await newest()) > before, 30_000);
    };
    const live: Live = {
      sb, tracer, api, url, tracerUrl, dir, json, send,
      close: async () => {
        await api?.close();
        await tracer?.close();
        await sb.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return live;
  } catch (err) {
    await api?.close();
    await tracer?.close();
    await sb.stop();
    throw err;
  }
}

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** A server-sent event reader on node:http (what a non-browser client does), with the token. */
export class SseClient {
  readonly events: SseEvent[] = [];
  comments: string[] = [];
  res?: IncomingMessage;
  private buf = '';
  private req?: ReturnType<typeof httpGet>;

  static open(url: string, headers: Record<string, string> = {}): Promise<{ status: number; client: SseClient; body?: string }> {
    const c = new SseClient();
    return new Promise((resolve, reject) => {
      c.req = httpGet(url, { headers: { Authorization: `Bearer ${TOKEN}`, Accept: 'text/event-stream', ...headers } }, (res) => {
        c.res = res;
        res.setEncoding('utf8');
        if (res.statusCode !== 200) {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, client: c, body }));
          return;
        }
        res.on('data', (d: string) => c.feed(d));
        resolve({ status: 200, client: c });
      });
      c.req.on('error', reject);
    });
  }

  private feed(chunk: string): void {
    this.buf += chunk;
    let i: number;
    while ((i = this.buf.indexOf('\n\n')) >= 0) {
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      const ev: SseEvent = { event: 'message', data: '' };
      let any = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
        else if (line.startsWith('id: ')) (ev.id = line.slice(4)), (any = true);
        else if (line.startsWith('event: ')) (ev.event = line.slice(7)), (any = true);
        else if (line.startsWith('data: ')) (ev.data += line.slice(6)), (any = true);
      }
      if (any && ev.event !== 'message') this.events.push(ev);
    }
  }

  traces(): Array<{ id: number; [k: string]: any }> {
    return this.events.filter((e) => e.event === 'trace').map((e) => JSON.parse(e.data));
  }

  close(): void {
    this.req?.destroy();
  }
}
