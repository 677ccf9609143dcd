// The checks issue 19's three chassis pass whatever the store (test/e2e/multi-chassis on one SQLite
// file, test/postgres/multi-chassis on PostgreSQL): one definition, so that neither store is held to
// less than the other. Each spec calls threeChassisChecks() inside its describe, after its own store's
// set-up, and adds what is its store's alone.
import { drawPath, paint } from '../../src/cli/render';
import { ICMP_ROUTED, ICMP_SAME, Path, Session, TCP_80, ThreeChassis, Trace } from './three-chassis';
import { readSse } from './sse';
import { waitFor } from './wait';

export interface AuditFlow { ufid: string; chassis: string; actions: string; traces: Array<{ id: number; verdict: { kinds: string[] }; pathVerdict: { kinds: string[]; northbound: { table: string; uuid: string } | null } }> }

/** What a spec's beforeAll made: the running chassis and the sessions of startSessions(). */
export interface ThreeChassisRun { hv: ThreeChassis; ofLsp1: Session; ofLsp1OnHv1: Session }

/** The paths the checks sent, for a spec's own checks after them (filled as each check runs). */
export interface SentPaths { sameSwitch: Path; routed: Path; dropped: Path }

const settle = (hv: ThreeChassis, id: number): Promise<Session> =>
  // Each agent writes its counters a second late at most: two equal reads apart are settled.
  waitFor('counters to settle', async () => {
    const a = await hv.get<Session>(`/trace-sessions/${id}`);
    await new Promise((r) => setTimeout(r, 1500));
    const b = await hv.get<Session>(`/trace-sessions/${id}`);
    return JSON.stringify(a.perChassis) === JSON.stringify(b.perChassis) ? b : undefined;
  });

/** Declares the shared `it` cases; `run` is read when they run (after the spec's beforeAll). */
export function threeChassisChecks(run: () => ThreeChassisRun): SentPaths {
  const sent = {} as SentPaths;
  const get = <T>(url: string) => run().hv.get<T>(url);

  it('the agents answer only /health and /metrics', async () => {
    for (const n of [1, 2, 3]) expect((await fetch(`http://127.0.0.1:${run().hv.base + n}/traces`)).status).toBe(404);
  });

  it('lsp1 → lsp2: hv1 tunnels, hv2 delivers to lsp2', async () => {
    const { hv } = run();
    const p = (sent.sameSwitch = await hv.whole(await hv.send(ICMP_SAME)));
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv2']);
    expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp2'], chassis: 'hv2', incomplete: false });
    expect(p.verdict.tunnels).toEqual([expect.objectContaining({ remoteChassis: 'hv2', toTraceId: p.passes[1].id })]);
    // Asked for by hv2's own path, the same whole path, once hv1's agent has told it stored everything
    // up to where a later sender could still be linked (read from an arrival, the sending chassis's
    // mark decides whether the hop is provisional: src/paths/provisional.ts).
    const back = await waitFor(`path ${p.passes[1].pathId} read from hv2, settled`, async () => {
      const b = await get<Path>(`/paths/${p.passes[1].pathId}`);
      return b.verdict.provisional ? undefined : b;
    });
    expect(back.passes.map((x) => x.id)).toEqual(p.passes.map((x) => x.id));
    expect(back.verdict).toEqual(p.verdict);
  });

  it('lsp1 → lsp3 behind the router: hv1 routes and tunnels, hv3 delivers to lsp3', async () => {
    const { hv } = run();
    const p = (sent.routed = await hv.whole(await hv.send(ICMP_ROUTED, 'hv3')));
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv3']);
    expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp3'], chassis: 'hv3', incomplete: false });
    expect(p.verdict.tunnels).toEqual([expect.objectContaining({ remoteChassis: 'hv3', toTraceId: p.passes[1].id })]);
  });

  it('the terminal client draws the routed path as the API gives it: the Geneve hop from hv1 to hv3 between the passes, not a recirculation', async () => {
    const { routed } = sent;
    const whole = await get<any>(`/paths/${routed.passes[0].pathId}?include=steps`);
    const text = drawPath(whole, paint(false)).split('\n');
    const [hop] = whole.verdict.tunnels;
    const at = text.findIndex((l) => l.startsWith(`┌─ pass 2 (trace ${routed.passes[1].id}) · hv3`));
    expect(text[at - 2]).toBe(`   │ geneve vni ${hop.vni} → hv3`);
    // Before, every next pass was drawn as a recirculation: `   │ recirc 0x0` from hv1 into hv3.
    expect(text.filter((l) => l.startsWith('   │ recirc'))).toEqual([]);
    expect(text[0]).toBe(`path ${whole.id} on hv1: output to lsp3`);
  });

  it("TCP/80 to lsp2: dropped on hv2 by the to-lport ACL's logical flow", async () => {
    const { hv } = run();
    const p = (sent.dropped = await hv.whole(await hv.send(TCP_80)));
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv2']);
    expect(p.verdict).toMatchObject({ kinds: ['drop'], chassis: 'hv2', logicalPorts: [], northbound: { table: 'ACL', uuid: await hv.dropAcl() } });
    expect(p.verdict.logicalFlow).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("the ACL's audit lists the drop with its chassis (northbound and logical flow audits)", async () => {
    const acl = await run().hv.dropAcl();
    const arrival = sent.dropped.passes[1].id;
    const has = (items: AuditFlow[]) => items.find((f) => f.traces.some((t) => t.id === arrival));
    const byAcl = (await get<{ items: AuditFlow[] }>(`/northbound/ACL/${acl}/datapath-flows`)).items;
    const flow = has(byAcl);
    expect(flow).toMatchObject({ chassis: 'hv2', actions: 'drop' });
    expect(flow!.traces.find((t) => t.id === arrival)!.pathVerdict).toMatchObject({ kinds: ['drop'], northbound: { table: 'ACL', uuid: acl } });
    // Every flow the ACL dropped was on the receiving chassis: the sender only tunnels.
    expect(new Set(byAcl.filter((f) => f.actions === 'drop').map((f) => f.chassis))).toEqual(new Set(['hv2']));
    const byLflow = (await get<{ items: AuditFlow[] }>(`/logical-flows/${sent.dropped.verdict.logicalFlow}/datapath-flows`)).items;
    expect(has(byLflow)).toMatchObject({ chassis: 'hv2', ufid: flow!.ufid });
  });

  it("?logical_port= finds a port's packets on every chassis that saw them; lsp2's on hv2 carry lsp1's key from the tunnel", async () => {
    const { sameSwitch, routed, dropped } = sent;
    const ids = async (q: string) => (await get<{ items: Trace[] }>(`/traces?${q}&limit=500`)).items;
    const lsp1 = await ids('logical_port=lsp1&role=any');
    // lsp1's pings and the dropped TCP: sent on hv1, arrived (lsp1's key in the tunnel) on hv2.
    for (const p of [sameSwitch, routed, dropped]) expect(lsp1.map((t) => t.id)).toEqual(expect.arrayContaining(p.passes.map((x) => x.id)));
    expect(new Set(lsp1.map((t) => t.chassis))).toEqual(new Set(['hv1', 'hv2', 'hv3']));
    // The routed ping's pass on hv3 names the router's port and lsp3, not lsp1: it is listed right
    // after hv1's pass that sent it, which it names; hv2's arrivals are listed by their own rows.
    const far = lsp1.findIndex((t) => t.id === routed.passes[1].id);
    expect(lsp1[far]).toMatchObject({ chassis: 'hv3', arrivedFrom: { traceId: routed.passes[0].id, chassis: 'hv1' } });
    expect(lsp1[far].logicalPorts!.map((p) => p.name)).not.toContain('lsp1');
    expect(lsp1[far - 1].id).toBe(routed.passes[0].id);
    expect(lsp1.filter((t) => t.arrivedFrom).map((t) => t.chassis)).toEqual(lsp1.filter((t) => t.chassis === 'hv3').map((t) => t.chassis));
    expect(lsp1.filter((t) => t.id === sameSwitch.passes[1].id)).toHaveLength(1);
    expect((await ids('logical_port=lsp1&role=outport')).some((t) => t.arrivedFrom)).toBe(false);
    // The tunnel key's ingress port (stored as tunnel_in) is lsp1's inport on the receiver.
    expect((await ids('logical_port=lsp1&role=inport&chassis=hv2')).map((t) => t.id)).toEqual(expect.arrayContaining([sameSwitch.passes[1].id, dropped.passes[1].id]));
    // The routed arrival is lsp3's on hv3 too.
    const lsp3 = await ids('logical_port=lsp3&role=outport');
    expect(lsp3.map((t) => t.id)).toContain(routed.passes[1].id);
    expect(lsp3.find((t) => t.id === routed.passes[1].id)!.chassis).toBe('hv3');
    const lsp2 = await ids('logical_port=lsp2&role=outport');
    expect(lsp2.find((t) => t.id === sameSwitch.passes[1].id)?.chassis).toBe('hv2');
    const rx = (await ids('logical_port=lsp2&chassis=hv2&role=outport')).find((t) => t.id === sameSwitch.passes[1].id);
    expect(rx?.logicalPorts).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'lsp1', role: 'tunnel_in' }), expect.objectContaining({ name: 'lsp2', role: 'outport' })]));
  });

  it("?logical_port=lsp1&chassis=hv3: hv3's pass of the routed packet, marked with hv1's sender, which the page never holds; pages of 1 give the same", async () => {
    const { routed } = sent;
    const all = async (q: string) => {
      const out: Trace[] = [];
      for (let url = `/traces?${q}`, n = 0; n < 50; n++) {
        const page = await get<{ items: Trace[]; next: string | null }>(url);
        out.push(...page.items);
        if (!page.next) return out;
        url = `/traces?${q}&cursor=${page.next}`;
      }
      throw new Error(`${q}: more than 50 pages`);
    };
    const hv3 = await all('logical_port=lsp1&chassis=hv3&limit=500');
    expect(hv3.find((t) => t.id === routed.passes[1].id)).toMatchObject({ chassis: 'hv3', arrivedFrom: { traceId: routed.passes[0].id, chassis: 'hv1' } });
    expect(new Set(hv3.map((t) => t.chassis))).toEqual(new Set(['hv3']));
    // Every hv3 pass of lsp1's packets is a routed one: none names lsp1 itself.
    expect(hv3.every((t) => t.arrivedFrom?.chassis === 'hv1')).toBe(true);
    const byOne = await all('logical_port=lsp1&chassis=hv3&limit=1');
    expect(byOne.map((t) => t.id)).toEqual(hv3.map((t) => t.id));
    // hv2's passes of lsp1's packets name lsp1 (its key in the tunnel): none is a far pass.
    const hv2 = await all('logical_port=lsp1&chassis=hv2&limit=500');
    expect(hv2.map((t) => t.id)).toEqual(expect.arrayContaining([sent.sameSwitch.passes[1].id]));
    expect(hv2.some((t) => t.arrivedFrom)).toBe(false);
  });

  it("GET /traces/stream?logical_port=lsp1 sends hv3's pass of the routed packet, marked with hv1's sender, once", async () => {
    const { hv } = run();
    const { routed } = sent;
    // Resumed from before the routed packet's passes (whichever chassis stored first): the stream's
    // own poll, the one a live stream runs each time something is committed, looks at every arrival
    // stored since and links it back.
    const from = Math.min(...routed.passes.map((x) => x.id)) - 1;
    const ac = new AbortController();
    const res = await fetch(`${hv.api}/traces/stream?logical_port=lsp1`, { signal: ac.signal, headers: { 'Last-Event-ID': String(from) } });
    expect(res.status).toBe(200);
    const { items: events, done: reading } = readSse<Trace>(res);
    try {
      const far = await waitFor("hv3's pass on the stream", async () => events.find((t) => t.id === routed.passes[1].id));
      expect(far).toMatchObject({ chassis: 'hv3', arrivedFrom: { traceId: routed.passes[0].id, chassis: 'hv1' } });
      await waitFor("hv1's pass on the stream", async () => events.find((t) => t.id === routed.passes[0].id));
      // A few polls more: each pass once, and hv2's arrivals (lsp1's key in the tunnel) as its own rows.
      await new Promise((r) => setTimeout(r, 1500));
      expect(events.filter((t) => t.id === routed.passes[1].id)).toHaveLength(1);
      expect(events.filter((t) => t.arrivedFrom).every((t) => t.chassis === 'hv3' && t.arrivedFrom!.chassis === 'hv1')).toBe(true);
      const later = events.find((t) => t.id === sent.dropped.passes[1].id);
      expect(later?.arrivedFrom).toBeUndefined();
    } finally {
      ac.abort();
      await reading;
    }
  });

  it("a live GET /traces/stream?logical_port=lsp1 sends hv3's pass of a new routed packet as it is stored, marked with hv1's sender", async () => {
    const { hv } = run();
    // With PostgreSQL each agent writes its own id range (its writer slot, storage/spool.ts) and the
    // passes of one packet land in two slots: the stream follows each slot.
    const ac = new AbortController();
    const res = await fetch(`${hv.api}/traces/stream?logical_port=lsp1`, { signal: ac.signal });
    expect(res.status).toBe(200);
    const events = readSse<Trace>(res);
    try {
      // Another TTL than the first routed ping: new datapath flows (new UFIDs) on hv1 and hv3, traced anew.
      const p = await hv.whole(await hv.send(ICMP_ROUTED.replace('ttl=64', 'ttl=63'), 'hv3'));
      expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv3']);
      const far = await waitFor("hv3's pass on the live stream", async () => events.items.find((t) => t.id === p.passes[1].id));
      expect(far).toMatchObject({ chassis: 'hv3', arrivedFrom: { traceId: p.passes[0].id, chassis: 'hv1' } });
      await waitFor("hv1's pass on the live stream", async () => events.items.find((t) => t.id === p.passes[0].id));
      expect(events.items.filter((t) => t.id === p.passes[1].id)).toHaveLength(1);
    } finally {
      ac.abort();
      await events.done;
    }
  });

  it("lsp1's session, created through the api, is carried out on hv1 and, by lsp1's key in the tunnel, on the receiving chassis", async () => {
    const { hv, ofLsp1 } = run();
    // After the packets above: hv1 stored lsp1's passes, hv2 the arrivals from lsp1 (towards lsp2's
    // address, not lsp1's: only the Geneve ingress key says they are lsp1's).
    const s = await waitFor('lsp1 counters on hv1 and hv2', async () => {
      const x = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
      return x.perChassis.hv1?.stored && x.perChassis.hv2?.stored ? x : undefined;
    });
    expect(s.stats.stored).toBe(Object.values(s.perChassis).reduce((n, c) => n + c.stored, 0));
    expect(s.perChassis.hv3?.stored ?? 0).toBe(0);
    // Each chassis's count is the session's traces that chassis stored (after the last writes land).
    const flushed = await settle(hv, ofLsp1.id);
    const traces = (await get<{ items: Trace[] }>('/traces?limit=500')).items;
    const onHv2 = traces.filter((t) => t.chassis === 'hv2').length;
    expect(flushed.perChassis.hv2.stored).toBeGreaterThan(0);
    expect(flushed.perChassis.hv2.stored).toBeLessThanOrEqual(onHv2);
    expect(flushed.perChassis.hv3?.stored ?? 0).toBe(0);
  });

  it('a session narrowed to hv1 is carried out on hv1 only', async () => {
    const s = await get<Session>(`/trace-sessions/${run().ofLsp1OnHv1.id}`);
    expect(s.onChassis).toEqual(['hv1']);
    expect(Object.keys(s.perChassis)).toEqual(['hv1']);
    expect(s.perChassis.hv1.stored).toBeGreaterThan(0);
    expect(s.stats.stored).toBe(s.perChassis.hv1.stored);
  });

  it('stopped through the api instance, every agent lets go of it', async () => {
    const { hv, ofLsp1 } = run();
    // Settled, the counters are the count before the stop.
    await settle(hv, ofLsp1.id);
    const res = await fetch(`${hv.api}/trace-sessions/${ofLsp1.id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Session).state).toBe('stopped');
    const before = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
    // Agents read the sessions table once a second.
    await new Promise((r) => setTimeout(r, 2500));
    // A new arrival on hv2 too, which lsp1's session would select by the tunnel key.
    const p = await hv.whole(await hv.send(ICMP_SAME));
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv2']);
    await new Promise((r) => setTimeout(r, 2500));
    const after = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
    expect(after.state).toBe('stopped');
    expect(after.perChassis).toEqual(before.perChassis);
    expect(after.stats.selected).toBe(before.stats.selected);
  });

  it('each agent stamped its passes with its own chassis (the local system-id)', async () => {
    const traces = (await get<{ items: Trace[] }>('/traces?limit=100')).items;
    expect(new Set(traces.map((t) => t.chassis))).toEqual(new Set(['hv1', 'hv2', 'hv3']));
  });

  return sent;
}
