// GET /paths/:id across chassis over one store that three agents wrote (hv1, hv2, hv3), with the
// datapath flows captured on a real three-chassis sandbox (debian12 lines, docs/multi-chassis.md):
// the sender's path continues on the receiving chassis, with that chassis's recirculation chain,
// and one verdict naming where the packet was delivered or dropped; an arrival outside the skew
// window is not linked and the path says which chassis it waits for. A one-chassis service
// without the remote chassis's rows answers exactly as before.
import 'reflect-metadata';
import { PathBuilder } from '../../../src/paths/path-builder';
import { PathsService } from '../../../src/paths/paths.service';
import { PortArrivals, SENDER_BOUND } from '../../../src/paths/port-arrivals';
import { traceCursor } from '../../../src/common/query';
import type { TraceListQuery } from '../../../src/traces/trace-read-store';
import { SqliteReader } from '../../../src/storage/sql';
import { oneCapturedFlow, type CapturedFlow } from '../../support/captured-multichassis';
import { allStored, oneChassis, storePass, usePathStores } from '../../support/cross-chassis';
import { recircIdHex } from '../../../src/ovs/ids';

const ENCAP = { hv1: '192.168.0.1', hv2: '192.168.0.2', hv3: '192.168.0.3' };
const T0 = Date.parse('2026-12-05T03:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const pick = (file: string, pred: (l: CapturedFlow) => boolean): CapturedFlow => oneCapturedFlow('debian12', file, pred);

describe('a path across chassis (GET /paths/:id)', () => {
  const s = usePathStores('livetrace-cross-chassis-');

  const pass = (chassis: string, l: CapturedFlow, at: number, verdict: Record<string, unknown>, pathId?: number) => storePass(s.db, chassis, l, at, verdict, pathId);
  const tunnelTo = (chassis: string) => ({ kinds: ['tunnel'], tunnels: [{ chassis, remoteIp: ENCAP[chassis as keyof typeof ENCAP] }] });
  const service = (config = {}) => new PathsService(new PathBuilder(s.store), s.traces, oneChassis(s.store, config, ENCAP));

  const toLsp2 = pick('hv1.flows-m.txt', (l) => l.key.includes('dst=50:54:00:00:00:02') && l.actions.includes('tnl_push('));
  const routed = pick('hv1.flows-m.txt', (l) => l.key.includes('dst=00:00:00:00:ff:01'));
  const icmpArrival = pick('hv2.flows-m.txt', (l) => l.key.includes('tunnel(') && l.actions === 'vif2');
  const tcpArrival = pick('hv2.flows-m.txt', (l) => l.key.includes('tunnel(') && l.actions === 'drop');
  const hv3Arrival = pick('hv3.flows-m.txt', (l) => l.key.includes('tunnel(') && l.recirc === 0);
  const ACL = { table: 'ACL', uuid: 'a1b2', summary: 'to-lport tcp.dst == 80 drop' };
  let ids: Record<string, { flow: number; trace: number; path: number }>;

  beforeAll(async () => {
    ids = {
      pingSent: pass('hv1', toLsp2, T0, tunnelTo('hv2')),
      pingRecv: pass('hv2', icmpArrival, T0 + 3, { kinds: ['output'], logicalPorts: ['lsp2'] }),
      routedSent: pass('hv1', routed, T0 + 4000, tunnelTo('hv3')),
      routedRecv: pass('hv3', hv3Arrival, T0 + 4002, { kinds: ['output'], logicalPorts: ['lsp3'] }),
      tcpSent: pass('hv1', toLsp2, T0 + 8000, tunnelTo('hv2')),
      tcpRecv: pass('hv2', tcpArrival, T0 + 8001, { kinds: ['drop'], logicalFlow: 'lf-acl-eval', stage: 'ls_out_acl_eval', northbound: ACL }),
      // Sent, and hv2's arrival only 5 s later: outside the default 1 s window.
      lateSent: pass('hv1', routed, T0 + 20_000, tunnelTo('hv3')),
    };
    // A recirculating receiver: hv2's arrival goes through conntrack, its recirculation delivers.
    const ctSent = pick('hv1.stateful.flows-m.txt', (l) => l.actions.includes('tnl_push('));
    const ctFirst = pick('hv2.stateful.flows-m.txt', (l) => l.key.includes('tunnel(') && l.recirc === 0);
    const ctSecond = pick('hv2.stateful.flows-m.txt', (l) => l.key.includes('tunnel(') && l.recirc !== 0);
    const ctZero = pick('hv1.stateful.flows-m.txt', (l) => l.recirc === 0);
    ids.ctZero = pass('hv1', ctZero, T0 + 12_000, { kinds: ['recirculate'], recircIds: [recircIdHex(ctSent.recirc)] });
    ids.ctSent = pass('hv1', ctSent, T0 + 12_000, tunnelTo('hv2'), ids.ctZero.path);
    s.db.prepare('INSERT INTO recirc_edge (parent_id, child_id, recirc_id) VALUES (?, ?, ?)').run(ids.ctZero.flow, ids.ctSent.flow, recircIdHex(ctSent.recirc));
    ids.ctFirst = pass('hv2', ctFirst, T0 + 12_001, { kinds: ['recirculate'], recircIds: [recircIdHex(ctSecond.recirc)] });
    ids.ctSecond = pass('hv2', ctSecond, T0 + 12_001, { kinds: ['output'], logicalPorts: ['lsp2'] }, ids.ctFirst.path);
    s.db.prepare('INSERT INTO recirc_edge (parent_id, child_id, recirc_id) VALUES (?, ?, ?)').run(ids.ctFirst.flow, ids.ctSecond.flow, recircIdHex(ctSecond.recirc));
    allStored(s.db, ['hv1', 'hv2', 'hv3']);
  });

  it('continues the ping to lsp2 on hv2: both passes, each naming its chassis, delivered to lsp2 on hv2', async () => {
    const p = await service().get(ids.pingSent.path, false);
    expect(p.passes.map((x) => [x.chassis, x.id])).toEqual([['hv1', ids.pingSent.trace], ['hv2', ids.pingRecv.trace]]);
    expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp2'], chassis: 'hv2', incomplete: false });
    expect((p.verdict as unknown as { tunnels: unknown[] }).tunnels).toEqual([
      { fromChassis: 'hv1', fromTraceId: ids.pingSent.trace, remoteIp: '192.168.0.2', remoteChassis: 'hv2', encap: 'geneve', vni: 2, ingressKey: 2, egressKey: 1, toTraceId: ids.pingRecv.trace },
    ]);
  });

  it("gives the same whole path when asked for by the receiving chassis's pass", async () => {
    const p = await service().get(ids.pingRecv.path, false);
    expect(p.passes.map((x) => [x.chassis, x.id])).toEqual([['hv1', ids.pingSent.trace], ['hv2', ids.pingRecv.trace]]);
    expect(p.verdict).toEqual((await service().get(ids.pingSent.path, false)).verdict);
    const drop = await service().get(ids.tcpRecv.path, false);
    expect(drop.passes.map((x) => x.id)).toEqual([ids.tcpSent.trace, ids.tcpRecv.trace]);
    expect(drop.verdict).toMatchObject({ kinds: ['drop'], chassis: 'hv2' });
  });

  it("asked for by one of two arrivals of the same sender megaflow, keeps that arrival (not the other packet's)", async () => {
    // hv1's flow to lsp2 carries an ICMP packet, then a TCP one 0.9 s later: both arrivals fit it.
    const sent = pass('hv1', toLsp2, T0 + 30_000, tunnelTo('hv2'));
    s.db.prepare('UPDATE datapath_flow SET last_seen = ? WHERE id = ?').run(iso(T0 + 31_000), sent.flow);
    const icmp = pass('hv2', icmpArrival, T0 + 30_010, { kinds: ['output'], logicalPorts: ['lsp2'] });
    const tcp = pass('hv2', tcpArrival, T0 + 30_900, { kinds: ['drop'], logicalFlow: 'lf-acl-eval', stage: 'ls_out_acl_eval', northbound: ACL });
    const p = await service().get(icmp.path, false);
    expect(p.passes.map((x) => x.id)).toEqual([sent.trace, icmp.trace]);
    expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp2'], chassis: 'hv2' });
    expect((p.verdict as unknown as { tunnels: Array<{ toTraceId: number }> }).tunnels.map((t) => t.toTraceId)).toEqual([icmp.trace]);
    const d = await service().get(tcp.path, false);
    expect(d.passes.map((x) => x.id)).toEqual([sent.trace, tcp.trace]);
    expect(d.verdict).toMatchObject({ kinds: ['drop'], chassis: 'hv2' });
    for (const id of [sent.flow, icmp.flow, tcp.flow]) s.db.prepare('UPDATE datapath_flow SET removed_at = last_seen WHERE id = ?').run(id);
  });

  it('asked for by any arrival of a routed multicast (two pushes to hv3, one to hv2 from one pass), gives every arrival', async () => {
    // lr0 mcast_relay, lsp2/lsp4 (sw0) and lr0-sw1/lsp3 (sw1) mcast_flood: hv1's one pass pushes
    // sw1's copy (routed) and sw0's copy to hv3, and sw0's to hv2 (hvK.mcast-m.txt, captured live).
    const sent = pass('hv1', pick('hv1.mcast-m.txt', () => true), T0 + 60_000, tunnelTo('hv3'));
    const toLsp2 = pass('hv2', pick('hv2.mcast-m.txt', (l) => l.actions === 'vif2'), T0 + 60_002, { kinds: ['output'], logicalPorts: ['lsp2'] });
    const toLsp3 = pass('hv3', pick('hv3.mcast-m.txt', (l) => l.actions === 'vif3'), T0 + 60_003, { kinds: ['output'], logicalPorts: ['lsp3'] });
    const toLsp4 = pass('hv3', pick('hv3.mcast-m.txt', (l) => l.actions === 'vif4'), T0 + 60_003, { kinds: ['output'], logicalPorts: ['lsp4'] });
    const whole = [sent.trace, toLsp3.trace, toLsp4.trace, toLsp2.trace];
    const fromSender = await service().get(sent.path, false);
    for (const asked of [sent, toLsp2, toLsp3, toLsp4]) {
      const p = await service().get(asked.path, false);
      // One packet, one answer: the passes in the sender's push order and the same verdict (which
      // chassis decided, which drop came first), whichever pass the path was asked for by.
      expect(p.passes.map((x) => x.id)).toEqual(whole);
      expect(p.verdict).toEqual(fromSender.verdict);
      expect([...p.verdict.logicalPorts].sort()).toEqual(['lsp2', 'lsp3', 'lsp4']);
      expect((p.verdict as unknown as { tunnels: Array<{ toTraceId: number }> }).tunnels.map((t) => t.toTraceId)).toEqual([toLsp3.trace, toLsp4.trace, toLsp2.trace]);
    }
    for (const id of [sent.flow, toLsp2.flow, toLsp3.flow, toLsp4.flow]) s.db.prepare('UPDATE datapath_flow SET removed_at = last_seen WHERE id = ?').run(id);
  });

  it('continues the routed ping on hv3 (sw1, not hv2 which also saw traffic from hv1)', async () => {
    const p = await service().get(ids.routedSent.path, false);
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv3']);
    expect(p.verdict).toMatchObject({ logicalPorts: ['lsp3'], chassis: 'hv3', incomplete: false });
  });

  it("says the TCP packet was dropped on hv2 by the ACL's logical flow", async () => {
    const p = await service().get(ids.tcpSent.path, false);
    expect(p.passes.map((x) => x.id)).toEqual([ids.tcpSent.trace, ids.tcpRecv.trace]);
    expect(p.verdict).toMatchObject({ kinds: ['drop'], chassis: 'hv2', logicalFlow: 'lf-acl-eval', stage: 'ls_out_acl_eval', northbound: ACL, dropTraceId: ids.tcpRecv.trace });
  });

  it("follows each chassis's recirculation chain: the push after conntrack on hv1, conntrack then delivery on hv2", async () => {
    const p = await service().get(ids.ctZero.path, false);
    expect(p.passes.map((x) => x.id)).toEqual([ids.ctZero.trace, ids.ctSent.trace, ids.ctFirst.trace, ids.ctSecond.trace]);
    expect(p.verdict).toMatchObject({ logicalPorts: ['lsp2'], chassis: 'hv2', incomplete: false });
  });

  it('leaves a push unlinked outside the skew window, incomplete and naming the remote chassis; a wider window links it', async () => {
    pass('hv3', hv3Arrival, T0 + 25_000, { kinds: ['output'], logicalPorts: ['lsp3'] });
    const p = await service().get(ids.lateSent.path, false);
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1']);
    expect(p.verdict).toMatchObject({ incomplete: true, kinds: ['tunnel'], chassis: 'hv1' });
    expect(p.verdict.incompleteReason).toMatch(/tunnel to 192\.168\.0\.3 \(chassis hv3\)/);
    const wide = await service({ LIVETRACE_TUNNEL_SKEW_MS: 10_000 }).get(ids.lateSent.path, false);
    expect(wide.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv3']);
  });

  it('answers a one-chassis service (role all) exactly as before when the store has no rows of the remote chassis', async () => {
    const alone = pass('hv9', { ...toLsp2, actions: toLsp2.actions.replace('dst=192.168.0.2', 'dst=192.168.0.9') }, T0 + 40_000, tunnelTo('hv2'));
    const before = await new PathsService(new PathBuilder(s.store), s.traces, oneChassis(s.store, {}, {})).get(alone.path, false);
    const built = (await new PathBuilder(s.store).ofPath(alone.path))!;
    expect(before.verdict).toEqual(built.verdict);
    expect(before.passes.map((x) => x.id)).toEqual([alone.trace]);
    // An api instance (many chassis) says the tunnel's far end was not found.
    const api = await new PathsService(new PathBuilder(s.store), s.traces, oneChassis(s.store, { LIVETRACE_ROLE: 'api' }, {})).get(alone.path, false);
    expect(api.verdict.incomplete).toBe(true);
  });

  describe("?logical_port=: a port's packets on the chassis they reached", () => {
    /** trace_port rows as the tracer writes them: [port, role, datapath]. */
    const ports = (trace: number, rows: Array<[string, string, string]>) => {
      for (const [name, role, datapath] of rows)
        s.db.prepare("INSERT INTO trace_port (trace_id, port_name, role, scope, datapath, created_at) VALUES (?, ?, ?, 'pass', ?, (SELECT created_at FROM trace WHERE id = ?))").run(trace, name, role, datapath, trace);
    };
    const tunnelOn = (trace: number, chassis: string, datapath: string, outport: string) => {
      const v = { kinds: ['tunnel'], logicalPorts: [], logicalFlow: null, northbound: null, recircIds: [], reason: null, tunnels: [{ chassis, remoteIp: ENCAP[chassis as keyof typeof ENCAP], datapath, outport }] };
      s.db.prepare('UPDATE trace SET verdict = ? WHERE id = ?').run(JSON.stringify(v), trace);
    };
    const arrivals = () => new PortArrivals(undefined as never, s.traces, new PathBuilder(s.store), oneChassis(s.store, {}, ENCAP), undefined, { query: new SqliteReader(s.db) });
    const page = async (q: Partial<TraceListQuery>) => {
      const query: TraceListQuery = { portName: 'lsp1', role: 'any', limit: 500, withSteps: false, ...q };
      return arrivals().withFarPasses((await s.traces.list(query)).items, query);
    };

    beforeAll(() => {
      // Keys of the captured run (debian12/keys.json): sw0 holds lsp1 and lsp2, sw1 (behind lr0) lsp3.
      ports(ids.pingSent.trace, [['lsp1', 'inport', 'sw0'], ['lsp2', 'tunnel_out', 'sw0']]);
      tunnelOn(ids.pingSent.trace, 'hv2', 'sw0', 'lsp2');
      ports(ids.pingRecv.trace, [['lsp1', 'tunnel_in', 'sw0'], ['lsp2', 'outport', 'sw0'], ['lsp2', 'output', 'sw0']]);
      ports(ids.routedSent.trace, [['lsp1', 'inport', 'sw0'], ['lsp3', 'tunnel_out', 'sw1']]);
      tunnelOn(ids.routedSent.trace, 'hv3', 'sw1', 'lsp3');
      // The router's port is the Geneve ingress of the routed packet: nothing on hv3 names lsp1.
      ports(ids.routedRecv.trace, [['sw1-lr0', 'tunnel_in', 'sw1'], ['lsp3', 'outport', 'sw1'], ['lsp3', 'output', 'sw1']]);
      ports(ids.lateSent.trace, [['lsp1', 'inport', 'sw0'], ['lsp3', 'tunnel_out', 'sw1']]);
      tunnelOn(ids.lateSent.trace, 'hv3', 'sw1', 'lsp3');
    });

    it("lists the routed packet's pass on hv3 right after hv1's, marked with its sender; the same-switch arrival once, where its own port row puts it", async () => {
      const items = await page({});
      const at = items.findIndex((t) => t.id === ids.routedSent.trace);
      expect(items[at + 1]).toMatchObject({ id: ids.routedRecv.trace, chassis: 'hv3', arrivedFrom: { traceId: ids.routedSent.trace, chassis: 'hv1' } });
      expect(items[at + 1].logicalPorts.map((p) => p.name)).not.toContain('lsp1');
      expect(items.filter((t) => t.id === ids.pingRecv.trace)).toHaveLength(1);
      expect(items.find((t) => t.id === ids.pingRecv.trace)!.arrivedFrom).toBeUndefined();
      // Outside the skew window nothing is linked, so nothing is added after the late sender.
      const late = items.findIndex((t) => t.id === ids.lateSent.trace);
      expect(items[late + 1]?.arrivedFrom).toBeUndefined();
      expect(items.filter((t) => t.arrivedFrom)).toHaveLength(1);
    });

    it('applies the other filters to the far passes, and adds none for outport, ufid or logical-flow queries', async () => {
      expect((await page({ verdict: 'drop' })).some((t) => t.arrivedFrom)).toBe(false);
      expect((await page({ role: 'inport' })).find((t) => t.arrivedFrom)?.id).toBe(ids.routedRecv.trace);
      expect((await page({ role: 'outport' })).some((t) => t.arrivedFrom)).toBe(false);
      expect((await page({ logicalFlow: 'lf-acl-eval' })).some((t) => t.arrivedFrom)).toBe(false);
      expect((await page({ until: iso(T0 + 4001) })).some((t) => t.arrivedFrom)).toBe(false);
      expect((await page({ since: iso(T0 + 3999), until: iso(T0 + 4002) })).map((t) => t.id)).toEqual([ids.routedSent.trace, ids.routedRecv.trace]);
    });

    describe('with chassis=: the sender is on another chassis, never in the page', () => {
      /** One page of `?logical_port=lsp1&chassis=…` as the route gives it (own rows, then the far passes merged in). */
      const onChassis = async (q: Partial<TraceListQuery>) => {
        const query: TraceListQuery = { portName: 'lsp1', role: 'any', limit: 500, withSteps: false, ...q };
        return arrivals().page(await s.traces.list(query), query);
      };
      /** Every page from the first, by `next`. */
      const allPages = async (q: Partial<TraceListQuery>) => {
        const pages: Array<{ ids: number[]; next: string | null }> = [];
        let cursor: Partial<TraceListQuery> = {};
        for (;;) {
          const p = await onChassis({ ...q, ...cursor });
          pages.push({ ids: p.items.map((t) => t.id), next: p.next });
          if (!p.next || pages.length > 20) return pages;
          cursor = traceCursor({ cursor: p.next });
        }
      };
      let own: number[];

      beforeAll(() => {
        // Two later passes on hv3 that name lsp1 themselves (its key as the tunnel's ingress): hv3's own rows of the port.
        own = [T0 + 40_000, T0 + 41_000].map((at) => pass('hv3', hv3Arrival, at, { kinds: ['output'], logicalPorts: ['lsp3'] }).trace);
        for (const t of own) ports(t, [['lsp1', 'tunnel_in', 'sw0'], ['lsp3', 'outport', 'sw1']]);
      });
      afterEach(() => {
        PortArrivals.bound = SENDER_BOUND;
      });

      it("lists hv3's pass of the routed packet, marked with hv1's sender, where the sender sits among hv3's own rows", async () => {
        const { items, next } = await onChassis({ chassis: 'hv3' });
        expect(items.map((t) => t.id)).toEqual([own[1], own[0], ids.routedRecv.trace]);
        expect(items[2]).toMatchObject({ chassis: 'hv3', arrivedFrom: { traceId: ids.routedSent.trace, chassis: 'hv1' } });
        expect(items.slice(0, 2).some((t) => t.arrivedFrom)).toBe(false);
        expect(next).toBeNull();
        // hv2's arrivals name lsp1 by their own rows; nothing on hv2 is a far pass.
        const hv2 = await onChassis({ chassis: 'hv2' });
        expect(hv2.items.map((t) => t.id)).toEqual([ids.pingRecv.trace]);
        expect(hv2.items.some((t) => t.arrivedFrom)).toBe(false);
        expect((await onChassis({ chassis: 'hv1' })).items.some((t) => t.arrivedFrom)).toBe(false);
      });

      it("applies the verdict, time and role filters to the far pass (not to its sender, whose verdict is the tunnel)", async () => {
        expect((await onChassis({ chassis: 'hv3', verdict: 'output' })).items.map((t) => t.id)).toEqual([own[1], own[0], ids.routedRecv.trace]);
        expect((await onChassis({ chassis: 'hv3', verdict: 'drop' })).items).toEqual([]);
        expect((await onChassis({ chassis: 'hv3', since: iso(T0 + 4002), until: iso(T0 + 4002) })).items.map((t) => t.id)).toEqual([ids.routedRecv.trace]);
        expect((await onChassis({ chassis: 'hv3', until: iso(T0 + 4001) })).items).toEqual([]);
        expect((await onChassis({ chassis: 'hv3', role: 'inport' })).items.map((t) => t.id)).toEqual([own[1], own[0], ids.routedRecv.trace]);
        expect((await onChassis({ chassis: 'hv3', role: 'outport' })).items.map((t) => t.id)).toEqual([]);
        expect((await onChassis({ chassis: 'hv3', sessionId: 7 })).items).toEqual([]);
      });

      it.each([1, 2])('pages of %i: the same items, none twice, none left out', async (limit) => {
        const pages = await allPages({ chassis: 'hv3', limit });
        expect(pages.flatMap((p) => p.ids)).toEqual([own[1], own[0], ids.routedRecv.trace]);
        expect(pages.every((p) => p.ids.length <= limit)).toBe(true);
      });

      it("follows no link for a sender whose every tunnel ends at a VIF on another chassis (its packet cannot reach the asked one); follows one to a gateway port", async () => {
        PortArrivals.bound = { rows: 1000, links: 1 };
        /** The southbound's Port_Binding types (lsp3 as given), as the replicas hold them. */
        const withTypes = (lsp3: string) => {
          const sb = { find: (table: string, _c: string, name: string) => (table === 'Port_Binding' && name === 'lsp3' ? [{ logical_port: 'lsp3', type: lsp3 }] : []) };
          return new PortArrivals(undefined as never, s.traces, new PathBuilder(s.store), oneChassis(s.store, {}, ENCAP), undefined, { query: new SqliteReader(s.db) }, undefined, { sb } as never);
        };
        const onHv2 = async (a: PortArrivals) => {
          const query: TraceListQuery = { portName: 'lsp1', role: 'any', limit: 500, withSteps: false, chassis: 'hv2' };
          return a.page(await s.traces.list(query), query);
        };
        // lsp3 a VIF on hv3: the routed senders are not walked, so one link's bound does not end the page.
        const vif = await onHv2(withTypes(''));
        expect(vif).toEqual({ items: [expect.objectContaining({ id: ids.pingRecv.trace })], next: null });
        // lsp3 a gateway port: hv3 could send the packet on, so the sender is walked and the bound ends the page.
        const gateway = await onHv2(withTypes('chassisredirect'));
        expect(gateway.next).not.toBeNull();
        // Asked for hv3 itself, the VIF there is where the packet goes: walked, found.
        const query: TraceListQuery = { portName: 'lsp1', role: 'any', limit: 500, withSteps: false, chassis: 'hv3' };
        PortArrivals.bound = SENDER_BOUND;
        expect((await withTypes('').page(await s.traces.list(query), query)).items.map((t) => t.id)).toEqual([own[1], own[0], ids.routedRecv.trace]);
      });

      it('past its bound a page stops where its look for senders did, with a next cursor, and the next pages go on from there', async () => {
        PortArrivals.bound = { rows: 1000, links: 1 };
        const pages = await allPages({ chassis: 'hv3' });
        // The late sender (newest) costs the first page's one link: it ends there, short of its limit.
        expect(pages[0]).toEqual({ ids: [own[1], own[0]], next: expect.any(String) });
        expect(pages.flatMap((p) => p.ids)).toEqual([own[1], own[0], ids.routedRecv.trace]);
        PortArrivals.bound = { rows: 1, links: 64 };
        const byRow = await allPages({ chassis: 'hv3' });
        expect(byRow.flatMap((p) => p.ids)).toEqual([own[1], own[0], ids.routedRecv.trace]);
        expect(byRow.length).toBeGreaterThan(2);
      });
    });

    describe("the stream's look (PortArrivals.since): only tunnel arrivals whose ingress is not the port, linked back", () => {
      const q = (extra: Partial<TraceListQuery> = {}): TraceListQuery => ({ portName: 'lsp1', role: 'any', limit: 100, withSteps: false, ...extra });

      it("finds hv3's pass of the routed packet among everything stored, marked with its sender; not hv2's arrivals, which name lsp1", async () => {
        const r = await arrivals().since(q(), 0, [], 100);
        expect(r.items.map((t) => [t.id, t.chassis, t.arrivedFrom])).toEqual([[ids.routedRecv.trace, 'hv3', { traceId: ids.routedSent.trace, chassis: 'hv1' }]]);
        expect(r.scannedTo).toBeGreaterThanOrEqual(ids.routedRecv.trace);
        expect(r.complete).toBe(true);
        expect(r.unlinked).toEqual([]);
        // A look that read its bound cannot tell its range is done (the stream holds that slot's cover
        // and looks again); reading on from where it stopped, the look ends with the range.
        let bounded = await arrivals().since(q(), 0, [], 1);
        expect(bounded.complete).toBe(false);
        for (let k = 0; k < 20 && !bounded.complete; k++) bounded = await arrivals().since(q(), bounded.scannedTo, [], 1);
        expect(bounded.complete).toBe(true);
        // Another port's stream: the same arrival is not its far pass (its sender does not hold lsp2).
        expect((await arrivals().since(q({ portName: 'lsp2' }), 0, [], 100)).items).toEqual([]);
        // After the arrival's id, or on another chassis, or with another verdict: nothing.
        expect((await arrivals().since(q(), ids.routedRecv.trace, [], 100)).items).toEqual([]);
        expect((await arrivals().since(q({ chassis: 'hv2' }), 0, [], 100)).items).toEqual([]);
        expect((await arrivals().since(q({ verdict: 'drop' }), 0, [], 100)).items).toEqual([]);
        expect((await arrivals().since(q({ chassis: 'hv3', verdict: 'output' }), 0, [], 100)).items.map((t) => t.id)).toEqual([ids.routedRecv.trace]);
        // The stream's gate: the port's passes that tunnelled, by trace time. None near the arrival: no link, kept for a retry.
        const gated = await arrivals().since(q(), 0, [], 100, [T0 - 3_600_000]);
        expect(gated.items).toEqual([]);
        expect(gated.unlinked).toContain(ids.routedRecv.trace);
        expect((await arrivals().since(q(), 0, [], 100, [T0 + 4000])).items.map((t) => t.id)).toEqual([ids.routedRecv.trace]);
        // Past the look's links, an arrival waits for the next look (retried), not linked now.
        PortArrivals.streamLinks = 0;
        try {
          const bounded = await arrivals().since(q(), 0, [], 100);
          expect(bounded.items).toEqual([]);
          expect(bounded.unlinked).toContain(ids.routedRecv.trace);
        } finally {
          PortArrivals.streamLinks = 64;
        }
      });

      it('an arrival stored before its sender is unlinked, and found when retried after the sender is stored', async () => {
        const at = T0 + 60_000;
        const early = pass('hv3', hv3Arrival, at + 1, { kinds: ['output'], logicalPorts: ['lsp3'] });
        ports(early.trace, [['sw1-lr0', 'tunnel_in', 'sw1'], ['lsp3', 'outport', 'sw1']]);
        const first = await arrivals().since(q(), ids.routedRecv.trace, [], 100);
        expect(first).toEqual({ items: [], scannedTo: early.trace, complete: true, unlinked: [early.trace] });
        const sender = pass('hv1', routed, at, tunnelTo('hv3'));
        ports(sender.trace, [['lsp1', 'inport', 'sw0'], ['lsp3', 'tunnel_out', 'sw1']]);
        tunnelOn(sender.trace, 'hv3', 'sw1', 'lsp3');
        const again = await arrivals().since(q(), first.scannedTo, first.unlinked, 100);
        expect(again.items.map((t) => [t.id, t.arrivedFrom])).toEqual([[early.trace, { traceId: sender.trace, chassis: 'hv1' }]]);
        expect(again.unlinked).toEqual([]);
        // Not retried, it is not looked at again.
        expect((await arrivals().since(q(), again.scannedTo, [], 100)).items).toEqual([]);
      });
    });
  });
});
