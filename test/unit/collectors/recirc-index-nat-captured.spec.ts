// The recirculation index on the NAT captures of every pair (scripts/capture-nat-fixtures): a load
// balancer's hairpin, a gateway router's lb_force_snat_ip, SNAT rows whose logical_ip is a prefix.
// Each reply pass ends in a bare ct(zone=N,nat),recirc(M) whose child pass shows the un-SNATed
// header and nothing of the NAT (+rpl: natVariant does not rebuild it; in the kernel's form no
// ct_tuple either). The keys are read as dumped (userspace datapath) and as a kernel datapath would
// dump the same megaflows: there is no kernel module here, so the kernel form is derived from the
// userspace capture (test/support/kernel-form.ts), as in recirc-index-kernel-form.spec.ts.
import type { Replica } from '../../../src/ovsdb/replica/replica';
import { flowWith, Form, modelRewrites, NAT_VERSIONS, natCapture, natEdges, NatFlow, natFlows, slotEdges, zonedRewrites } from '../../support/captured-nat';

const FORMS: Form[] = ['userspace', 'kernel'];

/** The child of `parent`'s recirculation whose dumped line matches `pattern`. */
function childOf(flows: readonly NatFlow[], parent: NatFlow, pattern: RegExp): NatFlow {
  const slot = flows.filter((f) => f.inPort === parent.inPort && f.recircId !== 0 && parent.recircTargets.includes(f.recircId));
  const found = slot.filter((f) => pattern.test(f.line));
  if (found.length !== 1) throw new Error(`${found.length} children of ${parent.id} match ${pattern}`);
  return found[0];
}

const edge = (p: NatFlow, c: NatFlow) => `${p.id}->${c.id}`;
/** A reply pass: an exact destination and a bare ct(nat) recirculation. */
const bareNat = /actions:(ct_clear,)?ct\(zone=\d+,nat\),recirc\(/;
/** An update2 map diff: a pair already there is removed. */
const dropOption = (nb: Replica, table: string, name: string, key: string) => {
  const row = [...nb.rows(table)].find((r) => r.name === name)!;
  const value = (row.options as Record<string, string>)[key];
  nb.applyUpdate2({ [table]: { [row._uuid]: { modify: { options: ['map', [[key, value]]] } } } });
};

describe.each(NAT_VERSIONS)('NAT captures of %s', (version) => {
  describe.each([
    ['lb-hairpin', '10.0.0.3', '10.0.0.100'],
    ['lb-hairpin-snat-ip', '10.0.0.2', '10.0.0.201'],
  ])('%s: the backend %s answers its own request, SNATed to %s', (scenario, backend, snat) => {
    const cap = natCapture(version, scenario);
    const rewrites = modelRewrites(version, cap.nb);
    const esc = (ip: string) => ip.replace(/\./g, '\\.');
    const pick = (flows: NatFlow[]) => {
      const parent = flowWith(flows, new RegExp(`ipv4\\(src=${esc(backend)},dst=${esc(snat)},proto=17,`), /udp\(src=80,/, bareNat);
      return [parent, childOf(flows, parent, new RegExp(`ipv4\\(src=${esc(backend)}/0\\.0\\.0\\.0,dst=${esc(backend)}/0\\.0\\.0\\.0,`))];
    };

    it.each(FORMS)('links the reply un-SNATed to the backend (%s form), and every recirculation of the capture', (form) => {
      const flows = natFlows(cap, form);
      const [parent, child] = pick(flows);
      expect(natEdges(flows, rewrites)).toContain(edge(parent, child));
      expect(natEdges(flows, rewrites)).toEqual(slotEdges(flows));
    });

    it('needs the hairpin: a userspace-form child keeps its header values, which no other rewrite explains', () => {
      const flows = natFlows(cap, 'userspace');
      const [parent, child] = pick(flows);
      const others = rewrites.filter((r) => !r.source.endsWith('(hairpin reply)'));
      expect(natEdges(flows, others)).not.toContain(edge(parent, child));
      // In the kernel's form the child wildcards both addresses (its mask keeps neither): linked without.
      expect(natEdges(natFlows(cap, 'kernel'), others)).toContain(edge(...(pick(natFlows(cap, 'kernel')) as [NatFlow, NatFlow])));
    });

    if (scenario === 'lb-hairpin-snat-ip') {
      it("does not link by the VIP when hairpin_snat_ip says the SNAT's address", () => {
        const c = natCapture(version, scenario);
        dropOption(c.nb, 'Load_Balancer', 'lbs', 'hairpin_snat_ip');
        const flows = natFlows(c, 'userspace');
        const [parent, child] = pick(flows);
        expect(natEdges(flows, modelRewrites(version, c.nb))).not.toContain(edge(parent, child));
      });
    }
  });

  describe.each([
    ['force-snat-router-ip', '10.0.0.254'],
    ['force-snat-ip', '10.0.0.250'],
    // lr1's load balancer in a Load_Balancer_Group of lr1's (scripts/capture-nat-fixtures).
    ['force-snat-lb-group', '10.0.0.254'],
  ])('%s: lr1 SNATs the load-balanced request to %s', (scenario, snat) => {
    const cap = natCapture(version, scenario);
    const pick = (flows: NatFlow[]) => {
      const parent = flowWith(flows, new RegExp(`dst=${snat.replace(/\./g, '\\.')},proto=17(/0)?,`), /in_port\(vif1\)/, bareNat);
      return [parent, childOf(flows, parent, /dst=172\.16\.0\.10,proto=17,/)];
    };

    it.each(FORMS)("links the backend's reply un-SNATed to the client (%s form), and every recirculation of the capture", (form) => {
      const flows = natFlows(cap, form);
      const [parent, child] = pick(flows);
      const rewrites = modelRewrites(version, cap.nb);
      expect(natEdges(flows, rewrites)).toContain(edge(parent, child));
      expect(natEdges(flows, rewrites)).toEqual(slotEdges(flows));
    });

    it.each(FORMS)('does not link it without the router option (%s form)', (form) => {
      const c = natCapture(version, scenario);
      dropOption(c.nb, 'Logical_Router', 'lr1', 'lb_force_snat_ip');
      const flows = natFlows(c, form);
      const [parent, child] = pick(flows);
      expect(natEdges(flows, modelRewrites(version, c.nb))).not.toContain(edge(parent, child));
    });
  });

  // lr1: snat 172.16.0.1 for 10.0.0.0/24 and snat 172.16.0.2 for 10.0.0.2 (the longer prefix wins).
  // The replies to both addresses recirculate into one slot (same port, same ct(zone,nat)), so the
  // slot holds the un-SNATed children of both: to 10.0.0.1 and to 10.0.0.2.
  describe('snat-prefix: a reply is linked to the children its SNAT row can un-SNAT it to', () => {
    const cap = natCapture(version, 'snat-prefix');
    const rewrites = modelRewrites(version, cap.nb);
    const pick = (flows: NatFlow[]) => {
      const to1 = flowWith(flows, /dst=172\.16\.0\.1,proto=17,/, bareNat);
      const to2 = flowWith(flows, /dst=172\.16\.0\.2,proto=17,/, bareNat);
      return { to1, to2, c1: childOf(flows, to1, /dst=10\.0\.0\.1,proto=17,/), c2: childOf(flows, to2, /dst=10\.0\.0\.2,proto=17,/) };
    };

    it.each(FORMS)("not a reply to 172.16.0.1 to 10.0.0.2, which its own row SNATs to 172.16.0.2 (%s form)", (form) => {
      const flows = natFlows(cap, form);
      const { to1, to2, c1, c2 } = pick(flows);
      expect(to1.recircTargets).toEqual(to2.recircTargets);
      const found = natEdges(flows, rewrites);
      expect(found).toEqual(expect.arrayContaining([edge(to1, c1), edge(to2, c2)]));
      expect(found).not.toContain(edge(to1, c2));
      expect(found).not.toContain(edge(to2, c1));
    });

    it('a kernel-form child whose mask keeps less than the address is linked while the prefix still holds a candidate', () => {
      // 10.0.0.2 under /26 stands for 10.0.0.0-63 too: 10.0.0.1 may be the packet.
      const flows = natFlows({ ...cap, lines: cap.lines.map((l) => l.replace(/dst=10\.0\.0\.2,proto=17,/, 'dst=10.0.0.2/255.255.255.192,proto=17,')) }, 'kernel');
      const to1 = flowWith(flows, /dst=172\.16\.0\.1,proto=17,/, bareNat);
      const c2 = childOf(flows, to1, /dst=10\.0\.0\.2\/255\.255\.255\.192,/);
      expect(natEdges(flows, rewrites)).toContain(edge(to1, c2));
    });
  });
});

// lr1 force-SNATs the client's request to the VIP (reply to 10.0.0.254) and not the one to its
// dnat_and_snat address 172.16.0.50, both to lsp1 (scripts/capture-nat-fixtures): each reply is
// linked to its own un-NATed child in the router's zone.
describe.each(NAT_VERSIONS)('force-snat-dnat-and-snat of %s', (version) => {
  const cap = natCapture(version, 'force-snat-dnat-and-snat');
  const rewrites = modelRewrites(version, cap.nb);

  it.each(FORMS)("links the force-SNATed reply and the dnat_and_snat row's reply to their own children (%s form)", (form) => {
    const flows = natFlows(cap, form);
    const forced = flowWith(flows, /in_port\(vif1\)/, /dst=10\.0\.0\.254,proto=17,/, bareNat);
    const other = flowWith(flows, /in_port\(vif1\)/, /dst=172\.16\.0\.10,proto=17,/, /udp\(src=80\/0(xfe00)?,dst=44002\//, /ct\(zone=\d+,nat\),recirc\(/);
    const found = natEdges(flows, rewrites);
    expect(found).toContain(edge(forced, childOf(flows, forced, /dst=172\.16\.0\.10,proto=17,.*udp\(src=80\/0,dst=44000\//)));
    expect(found).toContain(edge(other, childOf(flows, other, /src=172\.16\.0\.50\/0\.0\.0\.0,/)));
  });

  // Both replies first pass lsp1's zone (recirc_id(0), ct(zone=<lsp1>,nat)) into one slot, which
  // holds both connections' next passes; lr1's un-SNAT happens later, in lr1's zone. By the
  // capture's zone assignments (bridges.json) lr1's rewrites do not apply at lsp1's ct(nat), so
  // each reply's first pass is linked to its own connection's next pass only (the client's source
  // port tells them apart). Without the assignments every rewrite applied there (the over-link).
  it.each(FORMS)("links each reply's pass in the switch's zone to its own connection's next pass only (%s form)", (form) => {
    const flows = natFlows(cap, form);
    const parents = flows.filter((f) => f.recircId === 0 && /in_port\(vif1\)/.test(f.line) && bareNat.test(f.line));
    expect(parents).toHaveLength(2);
    const port = (f: NatFlow) => /udp\(src=[^,]*,dst=(\d+)/.exec(f.line)![1];
    const found = natEdges(flows, zonedRewrites(cap));
    for (const p of parents) {
      const slot = slotEdges(flows).filter((e) => e.startsWith(`${p.id}->`));
      const own = slot.filter((e) => port(flows[Number(e.split('->')[1])]) === port(p));
      expect(own).toHaveLength(1);
      expect(found.filter((e) => e.startsWith(`${p.id}->`))).toEqual(own);
    }
  });

  it.each(FORMS)("links each reply's pass in lr1's zone to its un-NATed child by the capture's zones (%s form)", (form) => {
    const flows = natFlows(cap, form);
    const forced = flowWith(flows, /in_port\(vif1\)/, /dst=10\.0\.0\.254,proto=17,/, bareNat);
    const other = flowWith(flows, /in_port\(vif1\)/, /dst=172\.16\.0\.10,proto=17,/, /udp\(src=80\/0(xfe00)?,dst=44002\//, /ct\(zone=\d+,nat\),recirc\(/);
    const found = natEdges(flows, zonedRewrites(cap));
    expect(found).toContain(edge(forced, childOf(flows, forced, /dst=172\.16\.0\.10,proto=17,.*udp\(src=80\/0,dst=44000\//)));
    expect(found).toContain(edge(other, childOf(flows, other, /src=172\.16\.0\.50\/0\.0\.0\.0,/)));
  });
});
