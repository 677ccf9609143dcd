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
import { join } from 'node:path';
import { Path, Session, ThreeChassis, Trace, ICMP_ROUTED, ICMP_SAME, TCP_80 } from '../support/three-chassis';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);

let hv: ThreeChassis;
const get = <T>(url: string) => hv.get<T>(url);
let everything: Session;
let ofLsp1: Session;
let ofLsp1OnHv1: Session;

beforeAll(async () => {
  hv = await ThreeChassis.start('livetrace-3hv-', (dir) => ({ LIVETRACE_DB: join(dir, 'shared.sqlite') }));
  await hv.startServices();
  everything = await hv.createSession({ filter: 'ip', durationSeconds: 3600, maxTraces: 1000 });
  ofLsp1 = await hv.createSession({ logicalPort: 'lsp1', durationSeconds: 3600 });
  ofLsp1OnHv1 = await hv.createSession({ logicalPort: 'lsp1', chassis: 'hv1', durationSeconds: 3600 });
  await hv.takenUp(everything.id, ['hv1', 'hv2', 'hv3']);
  await hv.takenUp(ofLsp1.id, ['hv1', 'hv2', 'hv3']);
  await hv.takenUp(ofLsp1OnHv1.id, ['hv1']);
});

afterAll(async () => {
  await hv?.stop();
});

describe('three agents, one store, an api instance', () => {
  it('the agents answer only /health and /metrics', async () => {
    for (const n of [1, 2, 3]) expect((await fetch(`http://127.0.0.1:${hv.base + n}/traces`)).status).toBe(404);
  });

  let sameSwitch: Path;
  it('lsp1 → lsp2: hv1 tunnels, hv2 delivers to lsp2', async () => {
    const p = (sameSwitch = await hv.whole(await hv.send(ICMP_SAME)));
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
    const p = await hv.whole(await hv.send(ICMP_ROUTED, 'hv3'));
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv3']);
    expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp3'], chassis: 'hv3', incomplete: false });
  });

  it("TCP/80 to lsp2: dropped on hv2 by the to-lport ACL's logical flow", async () => {
    const p = await hv.whole(await hv.send(TCP_80));
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv2']);
    const acl = await hv.dropAcl();
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
    const res = await fetch(`${hv.api}/trace-sessions/${ofLsp1.id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Session).state).toBe('stopped');
    const before = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
    await new Promise((r) => setTimeout(r, 2500));
    await hv.send(ICMP_SAME);
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
