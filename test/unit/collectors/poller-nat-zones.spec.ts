// The poller links the passes of its dumps through the OVN model's NAT rewrites of the parent's
// conntrack zone (PollerService's DatapathFlowTable source: natRewrites(zone)). The recirculation
// index and the model's per-zone rewrites have tests of their own; this one checks the wiring
// between them: a poller fed a real captured dump (scripts/capture-nat-fixtures), its model built
// from the same capture's NB rows, SB datapaths and br-int ct-zone-* keys, must link by a router's
// rewrite at that router's zones only. Were the zone dropped on the way (natRewrites() for every
// parent), a router's rewrite would apply in any zone: both cases below fail then.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecircLink } from '../../../src/collectors/datapath-diff';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { PollerService } from '../../../src/collectors/poller.service';
import { loadConfig } from '../../../src/config/config';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { OvnModel } from '../../../src/ovn/ovn-model';
import type { StoreWriter } from '../../../src/storage/writer';
import { CAPTURED_NAT, flowWith, NAT_VERSIONS, natCapture, type NatCaptureOptions, NatFlow, natFlows, slotEdges } from '../../support/captured-nat';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const bareNat = /actions:(ct_clear,)?ct\(zone=\d+,nat\),recirc\(/;
const ufidOf = (f: NatFlow) => /^ufid:([^,]+),/.exec(f.line)![1];

describe.each(NAT_VERSIONS)('the poller links by the rewrites of the parent zone (%s)', (version) => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  /** One poller cycle over the scenario's captured dump, with the capture's OVN model: its links as `parent->child` flow numbers. */
  async function pollerEdges(scenario: string, opts: NatCaptureOptions = {}): Promise<{ flows: NatFlow[]; edges: string[] }> {
    const cap = natCapture(version, scenario, opts);
    const flows = natFlows(cap, 'userspace');
    const idOf = new Map(flows.map((f) => [ufidOf(f), f.id]));
    const dump = readFileSync(join(CAPTURED_NAT, version, scenario, 'dump-flows.txt'), 'utf8');
    m = await openMigratedSqlite('livetrace-poller-nat-zones-');
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false' });
    const vswitchd = Object.assign(new EventEmitter(), { currentPid: 1, call: async () => dump, callServed: async () => ({ text: dump, pid: 1 }), invalidateDatapath: () => undefined });
    const metrics = new MetricsService();
    const store = { writer: m.writer, shipper: { state: { full: false } } };
    const replicas = { chassisName: () => 'hv1', model: new OvnModel({ nb: cap.nb, ...cap.zones! }) };
    const p = new PollerService(config, vswitchd as never, store as never, new DatapathFlowStore({ db: m.db }), replicas as never, metrics, new LifetimeSpoolBound(store as never, metrics));
    const links: RecircLink[] = [];
    p.on('cycle', (_events, l) => links.push(...l));
    expect(await p.cycle()).not.toBeNull();
    const edges = links.map((l) => `${idOf.get(l.parent.ufid)}->${idOf.get(l.child.ufid)}`).sort();
    return { flows, edges };
  }

  // Two routers: lr2 (distributed, the floating IP's NAT row) and lr1 (a gateway router). The
  // client's reply to the floating IP is un-SNATed to the VM in lr2's _snat zone (23.03: its
  // _dnat), a link only lr2's row gives; named lr1's zones, the same ct(zone=N,nat) gets none.
  describe('distributed-dnat-and-snat', () => {
    const unSnat = (flows: NatFlow[]) =>
      `${flowWith(flows, /in_port\(vif7\)/, /recirc_id\(0\)/, bareNat).id}->${flowWith(flows, /in_port\(vif7\)/, /dst=10\.1\.0\.6,proto=17,/, /udp\(src=80\/0xfe00,dst=46001\//).id}`;

    it("links the client's reply to its un-SNATed pass by lr2's row in lr2's zone", async () => {
      const { flows, edges } = await pollerEdges('distributed-dnat-and-snat');
      expect(edges).toContain(unSnat(flows));
    });

    it('does not link it when the zone is the other router', async () => {
      const { flows, edges } = await pollerEdges('distributed-dnat-and-snat', { swapRouters: ['lr1', 'lr2'] });
      expect(edges).not.toContain(unSnat(flows));
    });
  });

  // A switch port's zone and a router's: lsp1's two replies pass lsp1's zone first (recirc_id(0),
  // ct(zone=<lsp1>,nat)) into one slot holding both connections' next passes; lr1's rewrites apply
  // later, in lr1's zone. Each first pass is linked to its own connection's next pass only.
  it("force-snat-dnat-and-snat: a switch port's zone gets none of lr1's rewrites", async () => {
    const { flows, edges } = await pollerEdges('force-snat-dnat-and-snat');
    const parents = flows.filter((f) => f.recircId === 0 && /in_port\(vif1\)/.test(f.line) && bareNat.test(f.line));
    expect(parents).toHaveLength(2);
    const port = (f: NatFlow) => /udp\(src=[^,]*,dst=(\d+)/.exec(f.line)![1];
    for (const p of parents) {
      const own = slotEdges(flows).filter((e) => e.startsWith(`${p.id}->`) && port(flows[Number(e.split('->')[1])]) === port(p));
      expect(own).toHaveLength(1);
      expect(edges.filter((e) => e.startsWith(`${p.id}->`))).toEqual(own);
    }
    // lr1's own zone still links the force-SNATed reply to its un-SNATed pass.
    const forced = flowWith(flows, /in_port\(vif1\)/, /dst=10\.0\.0\.254,proto=17,/, bareNat);
    const child = flowWith(flows, /in_port\(vif1\)/, /dst=172\.16\.0\.10,proto=17,.*udp\(src=80\/0,dst=44000\//);
    expect(edges).toContain(`${forced.id}->${child.id}`);
  });
});
