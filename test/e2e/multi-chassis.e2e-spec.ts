// Issue 19 on three chassis (scripts/ovn-sandbox --chassis 3, multi-topology): one agent per chassis
// (LIVETRACE_ROLE=agent, each on its chassis's vswitchd and OVS database, named by its system-id)
// writing into one SQLite file, and one api instance that runs no agent. lsp1 on hv1 pings lsp2 on
// hv2 (same switch) and lsp3 behind the router on hv3; a TCP/80 packet to lsp2 is dropped by the
// to-lport ACL on hv2. GET /paths/:id on the api instance: each path whole across chassis, with the
// right verdict. The sessions are created through the api instance after the agents started: every
// agent takes them up from the shared table, a port's session is carried out on the receiving
// chassis too (by the port's key in the tunnel), `chassis` narrows one, and each chassis keeps its
// own counters.
// Several writers on one SQLite file are safe because storage/writer.ts begins IMMEDIATE (its own
// test has a second process writing); PostgreSQL is the store meant for many agents.
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
const ICMP_ROUTED = 'eth(src=50:54:00:00:00:01,dst=00:00:00:00:ff:01),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.1.3,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)';
const TCP_80 = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=40000,dst=80),tcp_flags(syn)';

let dir: string;
let db: string;
const children: Child[] = [];
const base = 20000 + Math.floor(Math.random() * 20000);
const api = `http://127.0.0.1:${base + 9}`;

const sandbox = async (...args: string[]) => (await run(SANDBOX_SCRIPT, [args[0], dir, ...args.slice(1)], { maxBuffer: 64 << 20 })).stdout;

/** The service's environment for chassis `hv` of the sandbox (its OVS database and vswitchd, the central NB/SB). */
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

interface Trace { id: number; chassis: string; pathId: number; verdict: { tunnels?: Array<{ remoteIp: string }> }; logicalPorts?: Array<{ name: string; role: string }> }
interface Path {
  passes: Array<{ id: number; chassis: string; pathId: number }>;
  verdict: { kinds: string[]; logicalPorts: string[]; chassis: string; incomplete: boolean; logicalFlow: string | null; northbound: { table: string; uuid: string } | null; tunnels: Array<{ remoteChassis: string; toTraceId: number | null }> };
}

/** Sends one packet from vif1 on hv1, then purges hv1's megaflows so the next packet is upcalled (and traced) too. */
async function send(flow: string, receiver = 'hv2'): Promise<{ pathId: number; receiver: string; after: number }> {
  const newest = async (chassis: string) => (await get<{ items: Trace[] }>(`/traces?chassis=${chassis}&limit=1`)).items[0]?.id ?? 0;
  const before = (await get<{ items: Trace[] }>('/traces?chassis=hv1')).items.map((t) => t.id);
  const after = await newest(receiver);
  const port = /\bvif1 \d+\/(\d+)/.exec(await sandbox('ctl', '--chassis', '1', 'dpif/show'))![1];
  await sandbox('inject', '--chassis', '1', 'vif1', `in_port(${port}),${flow}`);
  const sent = await waitFor('the pass on hv1', async () => (await get<{ items: Trace[] }>('/traces?chassis=hv1')).items.find((t) => !before.includes(t.id) && t.verdict.tunnels?.length));
  await sandbox('ctl', '--chassis', '1', 'revalidator/purge');
  return { pathId: sent.pathId, receiver, after };
}

/**
 * The path once its receiving chassis's pass is linked. The receiver's agent writes on its own
 * time: until its pass of this packet is stored, the link can only find an older arrival that fits
 * the sender's megaflow as well (an earlier packet's flow, still live), so wait for a pass of the
 * receiving chassis newer than the send first.
 */
const whole = async (sent: { pathId: number; receiver: string; after: number }) => {
  await waitFor(`a new pass on ${sent.receiver}`, async () =>
    ((await get<{ items: Trace[] }>(`/traces?chassis=${sent.receiver}&limit=1`)).items[0]?.id ?? 0) > sent.after || undefined);
  return waitFor(`path ${sent.pathId} across chassis`, async () => {
    const p = await get<Path>(`/paths/${sent.pathId}`);
    return p.verdict.tunnels?.length && p.verdict.tunnels.every((t) => t.toTraceId !== null) && !p.verdict.incomplete ? p : undefined;
  });
};

interface Stats { selected: number; stored: number }
interface Session { id: number; state: string; onChassis: string[] | null; stats: Stats; perChassis: Record<string, Stats> }

async function createSession(body: object): Promise<Session> {
  const res = await fetch(`${api}/trace-sessions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 201) throw new Error(`POST /trace-sessions: ${res.status} ${await res.text()}`);
  return (await res.json()) as Session;
}

/** Waits until these chassis's agents took the session up (each writes its counters row then). */
const takenUp = (id: number, chassis: string[]) =>
  waitFor(`session ${id} on ${chassis.join(', ')}`, async () => {
    const s = await get<Session>(`/trace-sessions/${id}`);
    return chassis.every((c) => s.perChassis[c]) ? s : undefined;
  });

let everything: Session;
let ofLsp1: Session;
let ofLsp1OnHv1: Session;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'livetrace-3hv-'));
  db = join(dir, 'shared.sqlite');
  await sandbox('start', '--chassis', '3', '--pair', process.env.LIVETRACE_PAIR ?? 'debian12');
  await sandbox('multi-topology');
  // One after the other: the first agent creates the schema.
  for (const hv of [1, 2, 3]) await service(hv, base + hv, { LIVETRACE_ROLE: 'agent' });
  await service(1, base + 9, { LIVETRACE_ROLE: 'api' });
  everything = await createSession({ filter: 'ip', durationSeconds: 3600, maxTraces: 1000 });
  ofLsp1 = await createSession({ logicalPort: 'lsp1', durationSeconds: 3600 });
  ofLsp1OnHv1 = await createSession({ logicalPort: 'lsp1', chassis: 'hv1', durationSeconds: 3600 });
  await takenUp(everything.id, ['hv1', 'hv2', 'hv3']);
  await takenUp(ofLsp1.id, ['hv1', 'hv2', 'hv3']);
  await takenUp(ofLsp1OnHv1.id, ['hv1']);
});

afterAll(async () => {
  await Promise.all(children.filter((c) => c.proc.exitCode === null && c.proc.signalCode === null).map(stop));
  if (dir) await run(SANDBOX_SCRIPT, ['stop', dir]).catch(() => undefined);
  if (dir && !process.env.LIVETRACE_KEEP_SANDBOX) rmSync(dir, { recursive: true, force: true });
});

describe('three agents, one store, an api instance', () => {
  it('the agents answer only /health and /metrics', async () => {
    for (const hv of [1, 2, 3]) expect((await fetch(`http://127.0.0.1:${base + hv}/traces`)).status).toBe(404);
  });

  let sameSwitch: Path;
  it('lsp1 → lsp2: hv1 tunnels, hv2 delivers to lsp2', async () => {
    const p = (sameSwitch = await whole(await send(ICMP_SAME)));
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv2']);
    expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp2'], chassis: 'hv2', incomplete: false });
    expect(p.verdict.tunnels).toEqual([expect.objectContaining({ remoteChassis: 'hv2', toTraceId: p.passes[1].id })]);
    // Asked for by hv2's own path, the same whole path.
    const back = await get<Path>(`/paths/${p.passes[1].pathId}`);
    expect(back.passes.map((x) => x.id)).toEqual(p.passes.map((x) => x.id));
    expect(back.verdict).toEqual(p.verdict);
  });

  it("?logical_port=lsp1 lists both chassis's passes of that packet, ?logical_port=lsp2&chassis=hv2 the delivering one", async () => {
    const [sent, arrival] = sameSwitch.passes;
    const lsp1 = (await get<{ items: Trace[] }>('/traces?logical_port=lsp1&role=any&limit=100')).items;
    expect(lsp1.map((t) => t.id)).toEqual(expect.arrayContaining([sent.id, arrival.id]));
    expect(new Set(lsp1.map((t) => t.chassis))).toEqual(new Set(['hv1', 'hv2']));
    // The tunnel key's ingress port (stored as tunnel_in) is lsp1's inport on the receiver.
    expect((await get<{ items: Trace[] }>('/traces?logical_port=lsp1&role=inport&chassis=hv2')).items.map((t) => t.id)).toContain(arrival.id);
    const lsp2 = (await get<{ items: Trace[] }>('/traces?logical_port=lsp2&chassis=hv2&role=outport')).items;
    const rx = lsp2.find((t) => t.id === arrival.id);
    expect(rx?.logicalPorts).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'lsp1', role: 'tunnel_in' }), expect.objectContaining({ name: 'lsp2', role: 'outport' })]));
  });

  it('lsp1 → lsp3 behind the router: hv1 routes and tunnels, hv3 delivers to lsp3', async () => {
    const p = await whole(await send(ICMP_ROUTED, 'hv3'));
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv3']);
    expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp3'], chassis: 'hv3', incomplete: false });
  });

  it("TCP/80 to lsp2: dropped on hv2 by the to-lport ACL's logical flow", async () => {
    const p = await whole(await send(TCP_80));
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv2']);
    const acl = (await run('ovn-nbctl', [`--db=unix:${dir}/ovnnb_db.sock`, '--bare', '--columns=_uuid', 'find', 'ACL', 'action=drop'])).stdout.trim();
    expect(p.verdict).toMatchObject({ kinds: ['drop'], chassis: 'hv2', logicalPorts: [], northbound: { table: 'ACL', uuid: acl } });
    expect(p.verdict.logicalFlow).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("lsp1's session is carried out on hv1 and, by lsp1's key in the tunnel, on the receiving chassis", async () => {
    // After the pings above: hv1 stored lsp1's passes, hv2 the arrivals from lsp1 (towards lsp2's
    // address, not lsp1's: only the Geneve ingress key says they are lsp1's).
    const s = await waitFor('lsp1 counters on hv1 and hv2', async () => {
      const x = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
      return x.perChassis.hv1?.stored && x.perChassis.hv2?.stored ? x : undefined;
    });
    expect(s.stats.stored).toBe(Object.values(s.perChassis).reduce((n, c) => n + c.stored, 0));
    // Each chassis's count is the session's traces that chassis stored (after the last writes land).
    const flushed = await waitFor('counters to settle', async () => {
      const a = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
      await new Promise((r) => setTimeout(r, 1500));
      const b = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
      return JSON.stringify(a.perChassis) === JSON.stringify(b.perChassis) ? b : undefined;
    });
    const traces = (await get<{ items: Trace[] }>('/traces?limit=500')).items;
    const onHv2 = traces.filter((t) => t.chassis === 'hv2').length;
    expect(flushed.perChassis.hv2.stored).toBeGreaterThan(0);
    expect(flushed.perChassis.hv2.stored).toBeLessThanOrEqual(onHv2);
    expect(flushed.perChassis.hv3?.stored ?? 0).toBe(0);
  });

  it('a session narrowed to hv1 is carried out on hv1 only', async () => {
    const s = await get<Session>(`/trace-sessions/${ofLsp1OnHv1.id}`);
    expect(s.onChassis).toEqual(['hv1']);
    expect(Object.keys(s.perChassis)).toEqual(['hv1']);
    expect(s.perChassis.hv1.stored).toBeGreaterThan(0);
    expect(s.stats.stored).toBe(s.perChassis.hv1.stored);
  });

  it('stopped through the api instance, every agent lets go of it', async () => {
    const res = await fetch(`${api}/trace-sessions/${ofLsp1.id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Session).state).toBe('stopped');
    const before = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
    await new Promise((r) => setTimeout(r, 2500));
    await send(ICMP_SAME);
    await new Promise((r) => setTimeout(r, 2500));
    const after = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
    expect(after.state).toBe('stopped');
    expect(after.stats.selected).toBe(before.stats.selected);
  });

  it('each agent stamped its passes with its own chassis (the local system-id)', async () => {
    const traces = (await get<{ items: Trace[] }>('/traces?limit=100')).items;
    expect(new Set(traces.map((t) => t.chassis))).toEqual(new Set(['hv1', 'hv2', 'hv3']));
  });
});
