// GET /paths/:id across chassis for a packet that rides an earlier packet's megaflows through
// conntrack on both chassis, over the lines of the captured established run (hvK.established-m.txt:
// an echo request through sw0's allow-related ACL, its reply, a second request). The second request
// shares the first's recirc_id 0 flows (hv1's ct(zone=1),recirc(0x1), hv2's tunnel arrival) and takes
// passes of its own after conntrack (ct_state=est): its path is those, on both chassis, whichever
// of its passes it is asked for by, and the first request's path stays the first's.
import 'reflect-metadata';
import { PathBuilder } from '../../../src/paths/path-builder';
import { PathStore } from '../../../src/paths/path-store';
import { PathsService } from '../../../src/paths/paths.service';
import { SqliteReader } from '../../../src/storage/sql';
import { recircIdHex } from '../../../src/ovs/ids';
import { MULTICHASSIS_PAIRS, oneCapturedFlow, type CapturedFlow } from '../../support/captured-multichassis';
import { oneChassis, storePass, usePathStores } from '../../support/cross-chassis';

const ENCAP = { hv1: '192.168.0.1', hv2: '192.168.0.2', hv3: '192.168.0.3' };
const T0 = Date.parse('2026-12-05T03:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe.each(MULTICHASSIS_PAIRS)('a second request through conntrack on both chassis, %s (GET /paths/:id)', (pair) => {
  const s = usePathStores(`livetrace-cross-chassis-est-${pair}-`);
  const pick = (file: string, pred: (f: CapturedFlow) => boolean) => oneCapturedFlow(pair, file, pred);
  const fromVm = (f: CapturedFlow) => f.key.includes('in_port(vif1)');
  const arrived = (f: CapturedFlow) => f.key.includes('tunnel(') && f.key.includes('in_port(genev_sys_6081)');
  // hv1: the shared first pass, then the push after conntrack, new (ct_state 0x21) and established (0x22).
  const f0 = pick('hv1.established-m.txt', (f) => fromVm(f) && f.recirc === 0);
  const f1New = pick('hv1.established-m.txt', (f) => fromVm(f) && f.key.includes('ct_state(0x21/0x3f)'));
  const f1Est = pick('hv1.established-m.txt', (f) => fromVm(f) && f.key.includes('ct_state(0x22/0x3f)'));
  // hv2: the shared arrival, then delivery after conntrack, new and established.
  const a0 = pick('hv2.established-m.txt', (f) => arrived(f) && f.recirc === 0);
  const a1New = pick('hv2.established-m.txt', (f) => arrived(f) && f.key.includes('ct_state(0x21/0x3f)'));
  const a1Est = pick('hv2.established-m.txt', (f) => arrived(f) && f.key.includes('ct_state(0x22/0x3f)'));
  const toHv2 = { kinds: ['tunnel'], tunnels: [{ chassis: 'hv2', remoteIp: ENCAP.hv2 }] };
  const lsp2 = { kinds: ['output'], logicalPorts: ['lsp2'] };
  let ids: Record<string, { flow: number; trace: number; path: number }>;

  beforeAll(() => {
    const edge = (parent: number, child: number, recirc: number) =>
      s.db.prepare('INSERT INTO recirc_edge (parent_id, child_id, recirc_id) VALUES (?, ?, ?)').run(parent, child, recircIdHex(recirc));
    // The first request at T0 sets up every flow; the second, 2 s later, rides the recirc_id 0 ones.
    const first = storePass(s.db, 'hv1', f0, T0, { kinds: ['recirculate'], recircIds: [recircIdHex(f1New.recirc)] });
    ids = { f0: first, f1New: storePass(s.db, 'hv1', f1New, T0, toHv2, first.path) };
    const arrival = storePass(s.db, 'hv2', a0, T0 + 2, { kinds: ['recirculate'], recircIds: [recircIdHex(a1New.recirc)] });
    ids.a0 = arrival;
    ids.a1New = storePass(s.db, 'hv2', a1New, T0 + 2, lsp2, arrival.path);
    // The tracer stores an established pass in a path of its own (its parent's path has its recirc id).
    ids.f1Est = storePass(s.db, 'hv1', f1Est, T0 + 2000, toHv2);
    ids.a1Est = storePass(s.db, 'hv2', a1Est, T0 + 2002, lsp2);
    edge(ids.f0.flow, ids.f1New.flow, f1New.recirc);
    edge(ids.f0.flow, ids.f1Est.flow, f1Est.recirc);
    edge(ids.a0.flow, ids.a1New.flow, a1New.recirc);
    edge(ids.a0.flow, ids.a1Est.flow, a1Est.recirc);
    // Megaflows stay installed while packets come (idle 10 s).
    for (const k of ['f0', 'f1New', 'a0', 'a1New']) s.db.prepare('UPDATE datapath_flow SET last_seen = ? WHERE id = ?').run(iso(T0 + 2500), ids[k].flow);
  });

  const service = () => new PathsService(new PathBuilder(s.store), s.traces, oneChassis(s.store, {}, ENCAP));

  it("continues the second request on hv2 with hv2's established pass, not the first request's", async () => {
    const p = await service().get(ids.f1Est.path, false);
    expect(p.passes.map((x) => x.id)).toEqual([ids.f0.trace, ids.f1Est.trace, ids.a0.trace, ids.a1Est.trace]);
    expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp2'], chassis: 'hv2', incomplete: false });
  });

  it("asked for by hv2's established pass, starts with hv1's established push, not the first request's", async () => {
    const p = await service().get(ids.a1Est.path, false);
    expect(p.passes.map((x) => x.id)).toEqual([ids.f0.trace, ids.f1Est.trace, ids.a0.trace, ids.a1Est.trace]);
  });

  it("reads each chassis's segment's datapath flows in one statement, not one a pass", async () => {
    // The sender look (the arrival, then the later passes for the packet's time) and each pass's
    // pushes read the same flows: a statement each, 6 for these two segments of two passes.
    const byId: string[] = [];
    const readsById = (sql: string) => /FROM datapath_flow f WHERE f\.id (= \?|IN \(SELECT value FROM json_each)/.test(sql);
    const reader = new (class extends SqliteReader {
      override all<T>(sql: string, ...params: unknown[]): Promise<T[]> {
        if (readsById(sql)) byId.push(sql);
        return super.all<T>(sql, ...params);
      }
      override get<T>(sql: string, ...params: unknown[]): Promise<T | undefined> {
        if (readsById(sql)) byId.push(sql);
        return super.get<T>(sql, ...params);
      }
    })(s.db);
    const store = new PathStore({ db: s.db, query: reader });
    const p = await new PathsService(new PathBuilder(store), s.traces, oneChassis(store, {}, ENCAP)).get(ids.f1Est.path, false);
    expect(p.passes.map((x) => x.id)).toEqual([ids.f0.trace, ids.f1Est.trace, ids.a0.trace, ids.a1Est.trace]);
    expect(byId).toHaveLength(2);
  });

  it("leaves the first request's path as it was, asked for from either chassis", async () => {
    for (const asked of [ids.f0, ids.a0]) {
      const p = await service().get(asked.path, false);
      expect(p.passes.map((x) => x.id)).toEqual([ids.f0.trace, ids.f1New.trace, ids.a0.trace, ids.a1New.trace]);
    }
  });
});
