// A pass's tunnel targets (its verdict's `tunnels`: chassis, VNI, the remote logical port) from its
// datapath actions as either source gives them: ofproto/trace prints `out_port(1)` and the tunnel
// port's number, the installed flow (`dpctl/dump-flows -m`, what a detrace pass and the poller
// hold) `out_port(br-phys)` and `genev_sys_6081`. The same flow, captured both ways on a real
// three-chassis sandbox (scripts/capture-multichassis-fixtures), must name the same targets.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dpifMaps, passVerdict } from '../../../src/correlation/verdict';
import { parseDpifShow } from '../../../src/ovs/dpif-show';
import { OvnModel } from '../../../src/ovn/ovn-model';
import { parseActions } from '../../../src/ovs/odp-actions';
import { capturedReplicas } from '../../support/captured-model';
import { capturedFlows, MULTICHASSIS_PAIRS, MULTICHASSIS_ROOT, multichassisKeys, multichassisKeysOf, multichassisModel, VXLAN_PAIRS } from '../../support/captured-multichassis';

describe.each(MULTICHASSIS_PAIRS)('tunnel targets of a pass (%s)', (pair) => {
  const keys = multichassisKeys(pair);
  const reps = capturedReplicas();
  reps.sb.applyUpdate2({
    Encap: Object.fromEntries(
      Object.entries(keys.encap).map(([chassis, ip], i) => [`00000000-0000-4000-8000-0000000e000${i}`, { insert: { type: 'geneve', ip, chassis_name: chassis, options: ['map', []] } }]),
    ),
  });
  const model = new OvnModel(reps);
  // dpif/show of hv1: the tunnel ports share datapath port 6081 (genev_sys_6081).
  const dpif = { dpifPortNames: new Map([[6081, 'ovn-hv2-0']]), dpifPortTypes: new Map([['ovn-hv2-0', 'geneve']]) };
  const targets = (actions: string) =>
    passVerdict({ datapathActions: actions, parsed: parseActions(actions), parseError: null, translationFailed: null, steps: [], lastOutport: null, ...dpif }, model).verdict.tunnels;
  // The same datapath flows, dumped with and without -m (the key's in_port differs: pair them by order).
  const named = capturedFlows(pair, 'hv1.flows-m.txt').filter((f) => f.actions.includes('tnl_push('));
  const numbered = capturedFlows(pair, 'hv1.flows.txt').filter((f) => f.actions.includes('tnl_push('));

  it('names the remote chassis and VNI of each push, with port names (-m) as with port numbers', () => {
    expect(named.length).toBeGreaterThan(0);
    expect(named.map((f) => f.actions.match(/dst=192\.168\.0\.\d/g)![1])).toEqual(numbered.map((f) => f.actions.match(/dst=192\.168\.0\.\d/g)![1]));
    for (const [i, f] of named.entries()) {
      const ip = f.actions.match(/ipv4\(src=[^,]+,dst=([0-9.]+)/)![1];
      const chassis = Object.entries(keys.encap).find(([, v]) => v === ip)![0];
      expect(targets(f.actions)).toEqual([expect.objectContaining({ chassis, remoteIp: ip, tunnelId: expect.stringMatching(/^0x[0-9a-f]+$/) })]);
      expect(targets(f.actions)).toEqual(targets(numbered[i].actions));
    }
  });

  it("reads the kernel datapath's set(tunnel(…)),port as well", () => {
    const kernel = capturedFlows(pair, 'hv1.kernel-form.txt').filter((f) => f.actions.includes('set(tunnel('));
    expect(kernel.length).toBeGreaterThan(0);
    for (const f of kernel) expect(targets(f.actions)).toEqual([expect.objectContaining({ remoteIp: expect.stringMatching(/^192\.168\.0\.\d$/), tunnelId: expect.stringMatching(/^0x/) })]);
  });
});

// With VXLAN the VNI is the datapath key | the egress port key << 12 (captured VXLAN run, its own keys):
// the targets name the switch and the remote port all the same; a flood's egress is a Multicast_Group,
// no logical port, so its outport stays null.
describe.each(VXLAN_PAIRS)('tunnel targets of a VXLAN pass (%s)', (pair) => {
  const model = multichassisModel(multichassisKeysOf(pair, 'vxlan.keys.json'));
  // dpif/show of hv1: the tunnel ports share datapath port 4789 (vxlan_sys_4789).
  const dpif = { dpifPortNames: new Map([[4789, 'ovn-hv2-0']]), dpifPortTypes: new Map([['ovn-hv2-0', 'vxlan']]) };
  const targets = (actions: string) =>
    passVerdict({ datapathActions: actions, parsed: parseActions(actions), parseError: null, translationFailed: null, steps: [], lastOutport: null, ...dpif }, model).verdict.tunnels;
  const flows = [...capturedFlows(pair, 'hv1.vxlan-m.txt'), ...capturedFlows(pair, 'hv1.vxlan-kernel-form.txt')];
  const of = (dst: string) => flows.filter((f) => f.key.includes(`dst=${dst}`) && /tnl_push\(|set\(tunnel\(/.test(f.actions));

  it('names the switch and the remote logical port, userspace and kernel form, -m or not', () => {
    expect(of('50:54:00:00:00:02')).toHaveLength(3);
    for (const f of of('50:54:00:00:00:02')) {
      expect(targets(f.actions)).toEqual([{ chassis: 'hv2', remoteIp: '192.168.0.2', tunnelId: expect.stringMatching(/^0x/), datapath: 'sw0', outport: 'lsp2' }]);
    }
    for (const f of of('00:00:00:00:ff:01')) {
      expect(targets(f.actions)).toEqual([expect.objectContaining({ chassis: 'hv3', datapath: 'sw1', outport: 'lsp3' })]);
    }
  });

  it("names a flood's switch, and no logical port for its multicast group", () => {
    const flood = of('ff:ff:ff:ff:ff:ff');
    expect(flood.length).toBeGreaterThan(0);
    for (const f of flood) for (const t of targets(f.actions)) expect(t).toMatchObject({ chassis: 'hv2', datapath: 'sw0', outport: null });
  });
});

// VXLAN on dst_port 4790 (capture-multichassis-fixtures vxlan-port): ofproto/trace prints the kernel form's
// tunnel port by number and tp_dst=4790, no default port. The pass's target still names the switch and lsp2,
// with hv1's captured dpif/show and without it.
describe.each(VXLAN_PAIRS.filter((p) => existsSync(join(MULTICHASSIS_ROOT, p, 'vxlan4790.keys.json'))))('tunnel targets of VXLAN on a non-default port (%s)', (pair) => {
  const model = multichassisModel(multichassisKeysOf(pair, 'vxlan4790.keys.json'));
  const file = (name: string) => readFileSync(join(MULTICHASSIS_ROOT, pair, name), 'utf8');
  const traced = /^Datapath actions: (.*)$/m.exec(file('hv1.vxlan4790-trace.txt'))![1];
  const maps = dpifMaps(parseDpifShow(file('hv1.vxlan4790-dpif-show.txt')).datapaths[0])!;
  const targets = (actions: string, dpif: object) =>
    passVerdict({ datapathActions: actions, parsed: parseActions(actions), parseError: null, translationFailed: null, steps: [], lastOutport: null, ...dpif }, model).verdict.tunnels;

  it.each([
    ['with dpif/show', { dpifPortNames: maps.names, dpifPortTypes: maps.types }],
    ['without', {}],
  ])("names sw0 and lsp2 from the trace's set(tunnel(…tp_dst=4790…)),4790 (%s)", (_what, dpif) => {
    expect(traced).toMatch(/tp_dst=4790,.*\),4790$/);
    expect(targets(traced, dpif)).toEqual([{ chassis: 'hv2', remoteIp: '192.168.0.2', tunnelId: expect.stringMatching(/^0x/), datapath: 'sw0', outport: 'lsp2' }]);
  });
});
