// Which traced passes of a flow a port session selected by its destination ('decide') it keeps
// (decidedFor, what the tracer asks). b669a95 kept every such pass that recirculates, so the first
// pass of a reply into the port (stopped at conntrack before the outport is known) heads its path.
// But 'decide' is an address: another tenant's switch holding the same IP selected every conntracked
// packet to it, and the session stored those passes and every recirculation after them. Now a pass
// that recirculates is kept where a packet to the port starts: its switch, or one from which the
// routers on the way send the port's address toward it (longest prefix over their connected networks
// and static routes), however many routers away. The replicas are the captured sandbox's (sw0:
// lsp1-3 10.0.0.0/24; sw1: lsp4; lr0 joins both and public 172.16.0.0/24), with another tenant's
// switch added: swB, whose lspB holds 10.0.0.2 as lsp2 does in sw0; and routers on public
// (test/support/router-rows.ts builds their northbound and southbound rows).
import { capturedReplicas } from '../../support/captured-model';
import { OvnModel } from '../../../src/ovn/ovn-model';
import { portTarget } from '../../../src/trace-sessions/port-target';
import { decidedFor } from '../../../src/trace-sessions';
import type { ReplicasService } from '../../../src/replicas/replicas.service';
import { addRouter, addSwitch } from '../../support/router-rows';

describe('a pass traced for a port session selecting it by its destination', () => {
  const replicas = capturedReplicas();
  replicas.sb.applyUpdate2({
    Datapath_Binding: { 'b0000000-0000-4000-8000-000000000001': { insert: { tunnel_key: 99, external_ids: ['map', [['name', 'swB'], ['logical-switch', 'b0000000-0000-4000-8000-0000000000ff']]] } } },
    Port_Binding: {
      'b0000000-0000-4000-8000-000000000002': { insert: { logical_port: 'lspB', datapath: ['uuid', 'b0000000-0000-4000-8000-000000000001'], tunnel_key: 1, type: '', mac: ['set', ['50:54:00:00:00:02 10.0.0.2']] } },
    },
  });
  // Two routers away: lr1 routes 10.0.0.0/24 to lr0's public address; lr2 behind it (three away)
  // sends everything to lr1.
  addRouter(replicas, 'lr1', [{ name: 'lr1-public', networks: ['172.16.0.1/24'], on: 'public' }, { name: 'lr1-far', networks: ['30.0.0.254/24'], on: 'swFar' }], [{ prefix: '10.0.0.0/24', nexthop: '172.16.0.254' }]);
  addSwitch(replicas, 'swFar', [{ name: 'lspFar', mac: '50:54:00:00:03:05 30.0.0.5' }]);
  addRouter(replicas, 'lr2', [{ name: 'lr2-far', networks: ['30.0.0.253/24'], on: 'swFar' }, { name: 'lr2-deep', networks: ['50.0.0.254/24'], on: 'swDeep' }], [{ prefix: '0.0.0.0/0', nexthop: '30.0.0.254' }]);
  addSwitch(replicas, 'swDeep', [{ name: 'lspDeep', mac: '50:54:00:00:05:05 50.0.0.5' }]);
  // Another tenant on public whose own network is 10.0.0.0/24 (lspT holds lsp1's 10.0.0.1): its
  // default route points at public, but its connected /24 is longer.
  addRouter(replicas, 'lrT', [{ name: 'lrT-public', networks: ['172.16.0.2/24'], on: 'public' }, { name: 'lrT-swT', networks: ['10.0.0.254/24'], on: 'swT' }], [{ prefix: '0.0.0.0/0', nexthop: '172.16.0.254' }]);
  addSwitch(replicas, 'swT', [{ name: 'lspT', mac: '50:54:00:00:00:01 10.0.0.1' }]);
  // A router that sends 10.0.0.0/8 to public, but 10.0.0.0/24 (longer) elsewhere, into its swX.
  addRouter(replicas, 'lrX', [{ name: 'lrX-public', networks: ['172.16.0.3/24'], on: 'public' }, { name: 'lrX-swX', networks: ['40.0.0.254/24'], on: 'swX' }], [
    { prefix: '10.0.0.0/8', nexthop: '172.16.0.254' },
    { prefix: '10.0.0.0/24', nexthop: '40.0.0.1' },
  ]);
  addSwitch(replicas, 'swX', [{ name: 'lspX', mac: '50:54:00:00:04:05 40.0.0.5' }]);
  // Routers on public whose route for 10.0.0.0/24 leaves by public too, each to another router's
  // address there: lrY's to lrT (which delivers it into its own swT), lrZ's to lr1 (which sends it
  // on to lr0, so it reaches lsp1). The route's port alone does not say where the packet goes.
  addRouter(replicas, 'lrY', [{ name: 'lrY-public', networks: ['172.16.0.7/24'], on: 'public' }, { name: 'lrY-swY', networks: ['60.0.0.254/24'], on: 'swY' }], [{ prefix: '10.0.0.0/24', nexthop: '172.16.0.2' }]);
  addSwitch(replicas, 'swY', [{ name: 'lspY', mac: '50:54:00:00:07:05 60.0.0.5' }]);
  addRouter(replicas, 'lrZ', [{ name: 'lrZ-public', networks: ['172.16.0.8/24'], on: 'public' }, { name: 'lrZ-swZ', networks: ['70.0.0.254/24'], on: 'swZ' }], [{ prefix: '10.0.0.0/24', nexthop: '172.16.0.1' }]);
  addSwitch(replicas, 'swZ', [{ name: 'lspZ', mac: '50:54:00:00:08:05 70.0.0.5' }]);
  // IPv6 only, by output_port: lr6 sends fd00::/64 (lsp1's fd00::1) out of lr6-sw1 to lr0's fd01::fe
  // (lr0 has no IPv6 on public: a route out of lr6's port there would hand the packet to no one).
  addRouter(replicas, 'lr6', [{ name: 'lr6-sw1', networks: ['fd01::6/64'], on: 'sw1' }, { name: 'lr6-sw6', networks: ['fd06::fe/64'], on: 'sw6' }], [{ prefix: 'fd00::/64', nexthop: 'fd01::fe', outputPort: 'lr6-sw1' }]);
  addSwitch(replicas, 'sw6', [{ name: 'lsp6', mac: '50:54:00:00:06:05 fd06::5' }]);
  // A port with a MAC and no address on sw0: nothing is routed to it.
  addSwitch(replicas, 'sw0', [{ name: 'lspM', mac: '50:54:00:00:00:0d' }]);
  const model = new OvnModel(replicas);
  const port = portTarget(replicas as unknown as ReplicasService, 'lsp1')!;
  /** A pass as the trace annotates it: the inport it entered by, as the model names its datapath, and its recirculations. */
  const pass = (inport: string, recircIds: string[], also: string[] = []) => ({
    ports: [inport, ...also].map((p) => ({ logicalPort: p, datapath: model.portByName(p)?.datapath?.name ?? null })),
    verdict: { recircIds },
  });

  it('keeps a pass naming the port, recirculating or not', () => {
    expect(decidedFor(pass('lsp2', [], ['lsp1']), port)).toBe(true);
    expect(decidedFor(pass('lsp4', ['0x3'], ['lsp1']), port)).toBe(true);
  });

  it("keeps a pass that recirculates before the outport is known on the port's switch, or on one its router reaches", () => {
    expect(decidedFor(pass('lsp2', ['0x3']), port)).toBe(true);
    expect(decidedFor(pass('lsp4', ['0x3']), port)).toBe(true);
  });

  it('keeps one two and three routers away, where the routers on the way route the port\'s address toward it', () => {
    expect(decidedFor(pass('lspFar', ['0x3']), port)).toBe(true);
    expect(decidedFor(pass('lspDeep', ['0x3']), port)).toBe(true);
    expect(decidedFor(pass('lsp6', ['0x3']), port)).toBe(true);
  });

  it('not behind a router whose longer prefix for the address leads elsewhere: its own connected network, a static route', () => {
    expect(model.portByName('lspT')?.datapath?.name).toBe('swT');
    expect(decidedFor(pass('lspT', ['0x3']), port)).toBe(false);
    expect(decidedFor(pass('lspX', ['0x3']), port)).toBe(false);
    expect([...port.datapaths!].sort()).toEqual(['lr0', 'lr1', 'lr2', 'lr6', 'lrZ', 'public', 'sw0', 'sw1', 'sw6', 'swDeep', 'swFar', 'swZ']);
  });

  it("by the route's next hop on a shared switch: to a router that sends the packet on toward the port, not to another tenant's", () => {
    expect(decidedFor(pass('lspZ', ['0x3']), port)).toBe(true);
    expect(decidedFor(pass('lspY', ['0x3']), port)).toBe(false);
  });

  it('a port with no address: only its own switch', () => {
    const mOnly = portTarget(replicas as unknown as ReplicasService, 'lspM')!;
    expect([...mOnly.datapaths!]).toEqual(['sw0']);
    expect(decidedFor(pass('lsp2', ['0x3']), mOnly)).toBe(true);
    expect(decidedFor(pass('lsp4', ['0x3']), mOnly)).toBe(false);
  });

  it("not another tenant's pass to the same address, though it recirculates", () => {
    expect(model.portByName('lspB')?.datapath?.name).toBe('swB');
    expect(decidedFor(pass('lspB', ['0x3']), port)).toBe(false);
  });

  it('not a pass that ends the packet without the port (an ARP for its address answered by the switch)', () => {
    expect(decidedFor(pass('lsp2', []), port)).toBe(false);
  });
});
