// Issue 19, `?logical_port=` across chassis (scripts/ovn-sandbox --chassis 3, multi-topology): the
// receiving chassis's pass starts from a Geneve tunnel whose option carries the ingress and egress
// logical port keys, so hv2's pass of lsp1's packet is lsp1's too. One agent per chassis on one
// SQLite file, an api instance that runs no agent; lsp1 on hv1 pings lsp2 on hv2.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Child, spawnService } from '../support/app';
import { SANDBOX_SCRIPT } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);
const run = promisify(execFile);

const ICMP_SAME = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)';

let dir: string;
let db: string;
const children: Child[] = [];
const base = 20000 + Math.floor(Math.random() * 20000);
const api = `http://127.0.0.1:${base + 9}`;

const sandbox = async (...args: string[]) => (await run(SANDBOX_SCRIPT, [args[0], dir, ...args.slice(1)], { maxBuffer: 64 << 20 })).stdout;

async function envOf(hv: number): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await sandbox('env', '--chassis', String(hv))).split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line);
    if (m && m[1] !== 'PATH') out[m[1]] = m[2];
  }
  return out;
}

async function service(hv: number, port: number, env: Record<string, string>): Promise<Child> {
  const child = spawnService({ ...(await envOf(hv)), LIVETRACE_DB: db, LIVETRACE_PORT: String(port), LIVETRACE_LOG_LEVEL: 'warn', LIVETRACE_POLL_INTERVAL_MS: '200', ...env });
  children.push(child);
  await waitFor(`the service on port ${port}`, async () => (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined))?.ok, 120_000);
  return child;
}

async function stop(child: Child): Promise<void> {
  child.proc.kill('SIGTERM');
  await child.exit;
}

const get = async <T>(url: string): Promise<T> => {
  const res = await fetch(`${api}${url}`);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
};

interface Trace { id: number; chassis: string; pathId: number; logicalPorts: Array<{ name: string; role: string; scope: string }>; verdict: { tunnels?: unknown[] } }
interface Path { passes: Array<{ id: number; chassis: string }>; verdict: { incomplete: boolean; tunnels?: Array<{ toTraceId: number | null }> } }

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'livetrace-3hv-ports-'));
  db = join(dir, 'shared.sqlite');
  await sandbox('start', '--chassis', '3', '--pair', process.env.LIVETRACE_PAIR ?? 'debian12');
  await sandbox('multi-topology');
  // Agents carry out the sessions stored before they start; a one-chassis service stores it (and the schema).
  const setup = await service(1, base + 8, { LIVETRACE_POLLER: 'false' });
  const res = await fetch(`http://127.0.0.1:${base + 8}/trace-sessions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ filter: 'ip', durationSeconds: 3600, maxTraces: 1000 }) });
  expect(res.status).toBe(201);
  await stop(setup);
  for (const hv of [1, 2, 3]) await service(hv, base + hv, { LIVETRACE_ROLE: 'agent' });
  await service(1, base + 9, { LIVETRACE_ROLE: 'api' });
});

afterAll(async () => {
  await Promise.all(children.filter((c) => c.proc.exitCode === null && c.proc.signalCode === null).map(stop));
  if (dir) await run(SANDBOX_SCRIPT, ['stop', dir]).catch(() => undefined);
  if (dir && !process.env.LIVETRACE_KEEP_SANDBOX) rmSync(dir, { recursive: true, force: true });
});

it("lsp1 → lsp2 (hv1 → hv2): ?logical_port=lsp1 lists both chassis's passes, ?logical_port=lsp2&chassis=hv2 the delivering one", async () => {
  const port = /\bvif1 \d+\/(\d+)/.exec(await sandbox('ctl', '--chassis', '1', 'dpif/show'))![1];
  await sandbox('inject', '--chassis', '1', 'vif1', `in_port(${port}),${ICMP_SAME}`);
  const sent = await waitFor('the pass on hv1', async () => (await get<{ items: Trace[] }>('/traces?chassis=hv1')).items.find((t) => t.verdict.tunnels?.length));
  const path = await waitFor('the path across chassis', async () => {
    const p = await get<Path>(`/paths/${sent.pathId}`);
    return p.verdict.tunnels?.length && p.verdict.tunnels.every((t) => t.toTraceId !== null) && !p.verdict.incomplete ? p : undefined;
  });
  const arrival = path.passes.find((p) => p.chassis === 'hv2')!;
  expect(arrival).toBeDefined();

  const lsp1 = (await get<{ items: Trace[] }>('/traces?logical_port=lsp1&role=any&limit=100')).items;
  expect(lsp1.map((t) => t.id)).toEqual(expect.arrayContaining([sent.id, arrival.id]));
  expect(new Set(lsp1.map((t) => t.chassis))).toEqual(new Set(['hv1', 'hv2']));
  // The tunnel key's ingress port (stored as tunnel_in) is lsp1's inport on the receiver.
  expect((await get<{ items: Trace[] }>('/traces?logical_port=lsp1&role=inport&chassis=hv2')).items.map((t) => t.id)).toContain(arrival.id);

  const lsp2 = (await get<{ items: Trace[] }>('/traces?logical_port=lsp2&chassis=hv2&role=outport')).items;
  expect(lsp2.map((t) => t.id)).toContain(arrival.id);
  const rx = lsp2.find((t) => t.id === arrival.id)!;
  expect(rx.logicalPorts).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'lsp1', role: 'tunnel_in' }), expect.objectContaining({ name: 'lsp2', role: 'outport' })]));
});
