// Where a floating IP's NAT runs and how its traffic crosses between chassis, as OVN really did it on
// every pair (scripts/capture-nat-fixtures --chassis 2: distributed-dnat-and-snat-2hv). lr2's gateway
// port lr2-pub and the client lsp7 are on hv1, the VM lsp6 on hv2; the dnat_and_snat row names lsp6
// and an external_mac, and pub has a localnet port on every chassis's br-phys (the sandbox's physical
// network). A floating IP is distributed when the VM's chassis does the NAT and talks to the outside
// by its own localnet port: nothing on the gateway chassis, no tunnel. The recirculation links of
// hv2's translated passes are test/unit/collectors/recirc-index-nat-distributed.spec.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ctZoneOwners } from '../../../src/ovn/ct-zones';
import { OvnModel } from '../../../src/ovn/ovn-model';
import { arrivalOf, pushesOf } from '../../../src/paths/tunnel-link';
import { CAPTURED_NAT, NAT_VERSIONS, natCapture, NatFlow, natFlows } from '../../support/captured-nat';

const SCENARIO = 'distributed-dnat-and-snat-2hv';
/** A chassis's port on br-phys to the physical network n1 (scripts/ovn-sandbox-chassis names it). */
const UPLINK = 'br-phys_n1';
const FIP_MAC = '50:54:00:00:01:50';

const actionsOf = (f: NatFlow) => /, actions:(.*?)(?:, dp-extra-info:.*)?$/.exec(f.line)![1];
const keyOf = (f: NatFlow) => f.line.replace(/^ufid:[^,]+, /, '').replace(/, packets:.*$/, '');
const ufidOf = (f: NatFlow) => /^ufid:([^,]+),/.exec(f.line)![1];
const trace = (version: string, chassis: string, f: NatFlow) => readFileSync(join(CAPTURED_NAT, version, SCENARIO, chassis, 'traces', `${ufidOf(f)}.txt`), 'utf8');
const zoneOfNat = (f: NatFlow) => /ct\((?:commit,)?zone=(\d+),nat\b/.exec(actionsOf(f))?.[1];

describe.each(NAT_VERSIONS)(`${SCENARIO} of %s`, (version) => {
  const hv1 = natCapture(version, SCENARIO, { chassis: 'hv1' });
  const hv2 = natCapture(version, SCENARIO, { chassis: 'hv2' });
  const flows = { hv1: natFlows(hv1, 'userspace'), hv2: natFlows(hv2, 'userspace') };

  it('has the topology it claims: lsp7 and the gateway port on hv1, lsp6 on hv2 (SB Port_Binding)', () => {
    const model = new OvnModel({ nb: hv2.nb, ...hv2.zones! });
    const boundOn = (port: string) => model.portByName(port)?.chassis;
    expect({ lsp6: boundOn('lsp6'), lsp7: boundOn('lsp7'), 'cr-lr2-pub': boundOn('cr-lr2-pub') }).toEqual({ lsp6: 'hv2', lsp7: 'hv1', 'cr-lr2-pub': 'hv1' });
  });

  it.each(['hv1', 'hv2'] as const)('no flow on %s pushes a tunnel or arrives by one', (hv) => {
    expect(flows[hv].length).toBeGreaterThan(0);
    expect(flows[hv].filter((f) => pushesOf(actionsOf(f)).length > 0 || arrivalOf({ key: keyOf(f), recircId: f.recircId }) !== undefined).map((f) => f.line)).toEqual([]);
  });

  describe('hv1, the gateway chassis', () => {
    it('does no conntrack at all: the floating IP is not NATed here', () => {
      expect(flows.hv1.filter((f) => /\bct\(/.test(actionsOf(f))).map((f) => f.line)).toEqual([]);
    });

    it("sends the client's packets to the floating IP's external_mac out by the localnet's bridge, unchanged", () => {
      const out = flows.hv1.filter((f) => /in_port\(vif7\)/.test(f.line) && f.line.includes(`dst=${FIP_MAC}`));
      expect(out).toHaveLength(1);
      expect(actionsOf(out[0])).toBe(UPLINK);
      // br-int's patch port to br-phys, the bridge ovn-bridge-mappings names for pub-ln's network.
      expect(trace(version, 'hv1', out[0])).toContain('bridge("br-phys")');
    });

    it("delivers the VM's SNATed packets, from the external_mac, that came in by the physical network", () => {
      const back = flows.hv1.filter((f) => f.line.includes(`in_port(${UPLINK})`) && f.line.includes(`eth(src=${FIP_MAC},`));
      expect(back.map(actionsOf)).toEqual(['vif7']);
    });
  });

  describe('hv2, the VM chassis', () => {
    const owners = ctZoneOwners(hv2.zones!.ovs.rows('Bridge'), hv2.zones!.sb.rows('Datapath_Binding'));
    const lr2 = [...hv2.nb.rows('Logical_Router')].find((r) => r.name === 'lr2')!._uuid;

    it("does every NAT of the floating IP, in lr2's zones of hv2 (its bridges.json)", () => {
      const nat = flows.hv2.filter((f) => zoneOfNat(f) !== undefined);
      expect(nat.length).toBeGreaterThan(0);
      expect(new Set(nat.map((f) => owners.get(Number(zoneOfNat(f)))))).toEqual(new Set([lr2]));
      // Both ways: a DNAT to the VM and an SNAT to the floating IP are committed here.
      expect(nat.some((f) => /nat\(dst=10\.1\.0\.6\)/.test(actionsOf(f)))).toBe(true);
      expect(nat.some((f) => /nat\(src=192\.168\.100\.50\)/.test(actionsOf(f)))).toBe(true);
    });

    it("takes the client's packets in from the physical network, not from a tunnel", () => {
      const first = flows.hv2.filter((f) => f.recircId === 0 && f.line.includes('dst=192.168.100.50'));
      expect(first.map((f) => /in_port\(([^)]+)\)/.exec(f.line)![1])).toEqual([UPLINK]);
    });

    it("sends the VM's translated packets (from the floating IP and its external_mac) out by the localnet's bridge", () => {
      const out = flows.hv2.filter((f) => /in_port\(vif6\)/.test(f.line) && /ipv4\(src=192\.168\.100\.50\b/.test(f.line) && actionsOf(f).endsWith(UPLINK));
      // The VM's reply (un-DNATed) and its own connection's packets (SNATed): 62/6a and 61 passes.
      expect(out.length).toBeGreaterThanOrEqual(2);
      for (const f of out) {
        expect(f.line).toContain(`eth(src=${FIP_MAC},`);
        expect(actionsOf(f)).toBe(`ct_clear,${UPLINK}`);
        expect(trace(version, 'hv2', f)).toContain('bridge("br-phys")');
      }
    });
  });
});
