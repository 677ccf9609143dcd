// Verdicts over real traces of every captured OVS/OVN pair (test/fixtures/verdicts, captured by
// scripts/capture-verdict-fixtures.ts from the topology of test/support/verdict-topology.ts), each
// checked against what the datapath really did: the installed flow's actions and the tx counters
// of the interfaces while the packet went through.
import { reasonOfOpcode, userdataOpcode } from '../../../src/correlation/controller-reason';
import { PathState } from '../../../src/paths/path-state';
import { packetPaths, PassNode } from '../../support/packet-paths';
import { natVariant, RecircIndex } from '../../../src/collectors/recirc-index';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareTracedActions, dpifShowPortNumbers } from '../../../src/ovs/trace-compare';
import { formatKey, parseKey } from '../../../src/ovs/odp-key';
import { detraceNodes, liveFlows, packetFlows, packetNodes, topology, txDelta, VERDICT_FIXTURES, VERDICT_VERSIONS } from '../../support/verdict-fixtures';

/** The packet's one path (paths/path-state.ts over the poller's recirculation edges). */
function onePath(nodes: readonly PassNode[]) {
  const paths = packetPaths(nodes);
  expect(paths).toHaveLength(1);
  return paths[0];
}

const tiered = (v: string) => Number(/_ovn-(\d+)\./.exec(v)![1]) * 100 + Number(/_ovn-\d+\.(\d+)/.exec(v)![1]) >= 2309;
const PACKETS = ['same-switch', 'acl-drop', 'lb-vip', 'routed-snat', 'unresolved-next-hop', 'ttl-expired', 'acl-reject', 'hairpin', 'gateway-mtu', 'acl-drop-logged', 'acl-drop-sampled', 'acl-default-drop'];

it('fixtures of the three supported pairs are present', () => {
  expect(VERDICT_VERSIONS).toEqual(['ovs-3.1.0_ovn-23.03.1', 'ovs-3.5.0_ovn-25.03.0', 'ovs-4.0.0_ovn-26.03.1']);
});

describe.each(VERDICT_VERSIONS)('%s', (version) => {
  const topo = topology(version);
  const lastPass = (packet: string) => {
    const nodes = packetNodes(version, packet);
    return nodes.filter((n) => n.trace.verdict.kind !== 'recirculate');
  };

  it.each(PACKETS)('%s: every traced pass agrees with its installed flow', (packet) => {
    const ports = dpifShowPortNumbers(readFileSync(join(VERDICT_FIXTURES, version, packet, 'dpif-show.txt'), 'utf8'));
    for (const f of packetFlows(version, packet)) {
      const cmp = compareTracedActions(f.pass, f.actions, ports);
      expect({ ufid: f.ufid, ...cmp }).toMatchObject({ ufid: f.ufid, same: true });
    }
  });

  it('acl-drop: the drop names the pg_web ACL that decided it, and which flow executed it', () => {
    const [drop] = lastPass('acl-drop');
    expect(drop.installed).toBe('drop');
    expect(txDelta(version, 'acl-drop').get('vif2')).toBe(0);
    const by = drop.trace.verdict.dropBy!;
    expect(drop.trace.verdict.kind).toBe('drop');
    expect(by.hint).toMatchObject({ table: 'ACL', uuid: topo.dropAcl });
    if (tiered(version)) {
      expect(by.stage).toBe('ls_out_acl_eval');
      expect(by.executedBy).toMatchObject({ stage: 'ls_out_acl_action' });
      expect(by.executedBy!.logicalFlowUuid).not.toBe(by.logicalFlowUuid);
    } else {
      expect(by.stage).toBe('ls_out_acl');
      expect(by.executedBy).toBeUndefined();
    }
    // The path's stored verdict carries both.
    const v = onePath(packetNodes(version, 'acl-drop')).verdict;
    expect(v).toMatchObject({ kinds: ['drop'], logicalFlow: by.logicalFlowUuid, northbound: { uuid: topo.dropAcl }, incomplete: false });
    if (tiered(version)) expect(v.executedBy).toMatchObject({ stage: 'ls_out_acl_action' });
  });

  // NB_Global options:default_acl_drop=true and no ACL for lsp1's traffic: with tiers, ls_in_acl_eval
  // only goes on (`next;`, no verdict bit set) and ls_in_acl_action's priority-0 flow (match `1`)
  // drops. That flow decided nothing another flow set: it is the drop, with no ACL behind it.
  it('acl-default-drop: the default drop is the flow that drops, not an ACL eval flow that went on', () => {
    const [drop] = lastPass('acl-default-drop');
    expect(drop.installed).toBe('drop');
    expect(txDelta(version, 'acl-default-drop').get('vif2')).toBe(0);
    const by = drop.trace.verdict.dropBy!;
    expect(drop.trace.verdict.kind).toBe('drop');
    const lf = drop.trace.logicalFlows!.find((f) => f.uuid === by.logicalFlowUuid)!;
    expect({ stage: by.stage, actions: lf.actions, hint: by.hint, executedBy: by.executedBy }).toEqual({
      stage: tiered(version) ? 'ls_in_acl_action' : 'ls_in_acl',
      actions: expect.stringMatching(/drop/),
      hint: null,
      executedBy: undefined,
    });
    expect(onePath(packetNodes(version, 'acl-default-drop')).verdict).toMatchObject({ kinds: ['drop'], logicalFlow: by.logicalFlowUuid, northbound: null, incomplete: false });
  });

  it('unresolved-next-hop: verdict controller for ARP resolution, paused on OVN >= 23.09, consistent', () => {
    const [pass] = lastPass('unresolved-next-hop');
    const f = packetFlows(version, 'unresolved-next-hop').find((x) => x.ufid === pass.ufid)!;
    expect(pass.installed).toMatch(/userspace\(pid=\d+,controller\(/);
    expect(pass.trace.verdict).toMatchObject({ kind: 'controller', controller: { reason: 'ARP resolution', opcode: 0, stage: 'lr_in_arp_request' } });
    expect(pass.trace.verdict.controller!.paused).toBe(/continuation=1/.test(pass.installed));
    expect(compareTracedActions(f.pass, f.actions)).toMatchObject({ same: true, how: pass.trace.verdict.controller!.paused ? 'paused_controller' : 'equal' });
    // ovn-controller did send the ARP: out of the ext switch's port.
    expect(txDelta(version, 'unresolved-next-hop').get('vif4')).toBeGreaterThanOrEqual(1);
  });

  it('acl-reject: verdict controller for the reject, naming the pg_web reject ACL (decided in acl_eval with tiers)', () => {
    const [pass] = lastPass('acl-reject');
    expect(pass.installed).toMatch(/^userspace\(pid=\d+,controller\(/);
    expect(pass.trace.verdict).toMatchObject({ kind: 'controller', controller: { reason: 'ACL reject', hint: { table: 'ACL', uuid: topo.rejectAcl } } });
    expect(pass.trace.verdict.controller!.stage).toBe(tiered(version) ? 'ls_out_acl_action' : 'ls_out_acl');
    expect(txDelta(version, 'acl-reject').get('vif2')).toBe(0);
    // ovn-controller answered the sender (a TCP reset).
    expect(txDelta(version, 'acl-reject').get('vif1')).toBe(1);
    expect(onePath(packetNodes(version, 'acl-reject')).verdict).toMatchObject({ kinds: ['controller'], controller: { reason: 'ACL reject', northbound: { uuid: topo.rejectAcl } }, incomplete: false });
  });

  // A copy for ovn-controller to log (ACL log, a non-paused packet-in) or for IPFIX (OVN's drop
  // sampling: userspace(flow_sample(…)), no packet-in at all) is not where the packet went: the
  // datapath sent it nowhere else, so it was dropped, by the ACL that logged or sampled it.
  it.each([
    ['acl-drop-logged', 'logAcl', /^userspace\(pid=\d+,controller\(reason=1,dont_send=\d,continuation=0,/],
    ['acl-drop-sampled', 'dropAcl', /^userspace\(pid=\d+,flow_sample\(/],
  ] as const)('%s: a drop naming its ACL, though a copy went to userspace', (packet, acl, installed) => {
    const [pass] = lastPass(packet);
    expect(pass.installed).toMatch(installed);
    expect(txDelta(version, packet).get('vif2')).toBe(0);
    expect(pass.trace.verdict).toMatchObject({ kind: 'drop', outputs: [], dropBy: { hint: { table: 'ACL', uuid: topo[acl] } } });
    expect(pass.trace.verdict.dropBy!.stage).toBe(tiered(version) ? 'ls_out_acl_eval' : 'ls_out_acl');
    const v = onePath(packetNodes(version, packet)).verdict;
    expect(v).toMatchObject({ kinds: ['drop'], northbound: { uuid: topo[acl] }, incomplete: false });
    // The log copy is still told (why ovn-controller saw the packet); a sample is no packet-in.
    if (packet === 'acl-drop-logged') expect(v.controller).toMatchObject({ reason: 'ACL log', paused: false, northbound: { uuid: topo[acl] } });
    else expect(v.controller).toBeUndefined();
  });

  // lsp1's packet to its own MAC: ls_in_l2_lkup sets outport = "lsp1" and outputs; ovn-controller's
  // loopback check (a physical-table rule owned by lsp1's Port_Binding) drops it. No logical flow
  // dropped it, and the verdict must not name the last one that ran.
  it('hairpin: a drop by the loopback rule of ovn-controller, naming no logical flow', () => {
    const [pass] = lastPass('hairpin');
    for (const vif of ['vif1', 'vif2', 'vif3']) expect(txDelta(version, 'hairpin').get(vif)).toBe(0);
    const v = pass.trace.verdict;
    expect(v).toMatchObject({ kind: 'drop', outputs: [], dropBy: { logicalFlowUuid: null, hint: null, stage: null } });
    const step = pass.trace.steps[v.dropBy!.stepSeq];
    expect(step.actions).toBe('drop');
    expect(step.owners).toMatchObject([{ table: 'Port_Binding', name: 'lsp1' }]);
    expect(v.dropBy!.rule).toMatchObject({ table: step.table, owner: 'Port_Binding lsp1' });
    expect(v.reason).toMatch(/logical outport is the inport/);
    expect(onePath(packetNodes(version, 'hairpin')).verdict).toMatchObject({ kinds: ['drop'], logicalFlow: null, northbound: null, dropReason: v.reason, incomplete: false });
  });

  // With gateway_mtu, lr0's pass holds check_pkt_len(size=N,gt(userspace(controller(…))),le(…)):
  // one datapath flow for short and long packets. The short one sent was delivered; the ICMP
  // "fragmentation needed" is only for longer packets, and the verdict must say so.
  it('gateway-mtu: delivered to lsp4; the controller branch is told as for long packets only', () => {
    expect(txDelta(version, 'gateway-mtu').get('vif4')).toBe(1);
    const split = packetNodes(version, 'gateway-mtu').find((n) => /check_pkt_len\(size=\d+,gt\(userspace\(pid=\d+,controller\(/.test(n.installed))!;
    const size = /check_pkt_len\(size=(\d+)/.exec(split.installed)![1];
    expect(split.trace.verdict.controller!.reason).toBe(`ICMP error, for packets longer than ${size} bytes only (check_pkt_len): shorter ones take the other branch`);
    const v = onePath(packetNodes(version, 'gateway-mtu')).verdict;
    expect(v).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp4'], incomplete: false });
    expect(v.controller!.reason).toContain(`longer than ${size} bytes only`);
  });

  it('ttl-expired: verdict controller for an ICMP error (lr0 answers the sender)', () => {
    const [pass] = lastPass('ttl-expired');
    expect(pass.trace.verdict).toMatchObject({ kind: 'controller', controller: { reason: 'ICMP error', opcode: 10, stage: 'lr_in_ip_input' } });
    expect(txDelta(version, 'ttl-expired').get('vif1')).toBe(1);
    expect(txDelta(version, 'ttl-expired').get('vif4')).toBe(0);
  });

  it.each([
    ['same-switch', 'lsp2', 'vif2', 1],
    ['routed-snat', 'lsp4', 'vif4', 1],
    ['lb-vip', 'lsp3', 'vif3', 2],
  ] as const)('%s: every path ends in the output to %s, whose interface sent the packets', (packet, lsp, vif, n) => {
    expect(txDelta(version, packet).get(vif)).toBe(n);
    const paths = packetPaths(packetNodes(version, packet));
    expect(paths.length).toBeGreaterThanOrEqual(1);
    for (const p of paths) expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: [lsp], incomplete: false });
  });

  it('lb-vip: the established packet’s pass after ct(nat) links to its parent through the original tuple', () => {
    const flows = liveFlows(version, 'lb-vip');
    const idx = new RecircIndex<(typeof flows)[number]>();
    for (const f of flows) idx.add(f);
    const orphans = flows.filter((f) => f.recircId !== 0 && idx.parentsOf(f).length === 0);
    expect(orphans.map((f) => f.ufid)).toEqual([]);
    // The NATed child: +dnat, its own key says 10.0.0.3, the root's match says 10.0.0.100.
    const root = flows.find((f) => f.recircId === 0)!;
    const natChild = idx.childrenOf(root).find((c) => /10\.0\.0\.3\b/.test(JSON.stringify(c.flow.key)));
    expect(natChild).toBeDefined();
    // Every output pass reaches the root; the stored path of the second packet is complete.
    const output = flows.find((f) => f.recircTargets.length === 0)!;
    for (const parent of idx.parentsOf(output)) {
      const chain = [output, parent];
      for (let cur = parent; cur.recircId !== 0; ) {
        cur = idx.parentsOf(cur)[0];
        chain.push(cur);
      }
      expect(chain[chain.length - 1]).toBe(root);
      const nodes = packetNodes(version, 'lb-vip');
      const state = new PathState();
      chain.reverse().forEach((f, i) => state.add({ traceId: i + 1, flowId: i, recircId: f.recircId, pass: nodes.find((n) => n.ufid === f.ufid)!.trace, parents: i ? [i - 1] : [] }));
      expect(state.verdict()).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp3'], incomplete: false });
    }
  });

  it('lb-vip: a NATed child whose original tuple is another connection’s is not linked (no over-linking)', () => {
    const flows = liveFlows(version, 'lb-vip');
    const root = flows.find((f) => f.recircId === 0)!;
    const idx = new RecircIndex<(typeof flows)[number]>();
    idx.add(root);
    // The NATed child of the root (its own addresses are the backend's, not the VIP's).
    const natted = flows.filter((f) => f.recircId === root.recircTargets[0] && natVariant(f.flow.key) !== null && /10\.0\.0\.3"/.test(JSON.stringify(f.flow.key)));
    expect(natted).toHaveLength(1);
    idx.add(natted[0]);
    expect(idx.parentsOf(natted[0])).toEqual([root]);
    // The same child, but its connection was to another VIP port: the root (tcp dst 80) is not its parent.
    const other = { ...natted[0], ufid: 'other', flow: { ...natted[0].flow, key: parseKey(retuple(natted[0].flow.key)) } };
    idx.add(other);
    expect(idx.parentsOf(other)).toEqual([]);
    expect(idx.childrenOf(root)).toEqual([natted[0]]);
  });

  const withDetrace = detraceNodes(version, 'acl-drop').length > 0;
  (withDetrace ? describe : describe.skip)('with the detrace method (rules of the real ofproto/detrace reply)', () => {
    it('acl-drop: the drop names the same ACL, decision and execution', () => {
      const t = detraceNodes(version, 'acl-drop').find((n) => n.installed === 'drop')!;
      const byTrace = lastPass('acl-drop')[0].trace.verdict.dropBy!;
      expect(t.trace.verdict).toMatchObject({ kind: 'drop', dropBy: { hint: { table: 'ACL', uuid: topo.dropAcl }, stage: byTrace.stage } });
      expect(t.trace.verdict.dropBy!.executedBy?.stage).toBe(byTrace.executedBy?.stage);
    });

    it('acl-default-drop: the same dropping flow as the trace names', () => {
      const t = detraceNodes(version, 'acl-default-drop').find((n) => n.installed === 'drop')!;
      const byTrace = lastPass('acl-default-drop')[0].trace.verdict.dropBy!;
      expect(t.trace.verdict.dropBy).toMatchObject({ logicalFlowUuid: byTrace.logicalFlowUuid, stage: 'ls_in_acl_action', hint: null });
      expect(t.trace.verdict.dropBy!.executedBy).toBeUndefined();
    });

    it.each(['unresolved-next-hop', 'ttl-expired'])('%s: controller with the same reason as the trace gives', (packet) => {
      const [byTrace] = lastPass(packet);
      const t = detraceNodes(version, packet).find((n) => n.ufid === byTrace.ufid);
      expect(t).toBeDefined();
      expect(t!.trace.verdict).toMatchObject({ kind: 'controller', controller: { reason: byTrace.trace.verdict.controller!.reason, paused: byTrace.trace.verdict.controller!.paused } });
    });

    it.each([
      ['same-switch', 'lsp2'],
      ['routed-snat', 'lsp4'],
    ])('%s: the output pass outputs to %s', (packet, lsp) => {
      const outs = detraceNodes(version, packet).filter((n) => n.trace.verdict.outputs.length);
      expect(outs.length).toBeGreaterThanOrEqual(1);
      for (const n of outs) expect(n.trace.verdict).toMatchObject({ kind: 'output', outputs: [lsp] });
    });
  });

  it('a path whose recirculation has no pass says which one is missing', () => {
    const nodes = packetNodes(version, 'lb-vip');
    const root = nodes.find((n) => n.trace.recircId === '0x0')!;
    const state = new PathState();
    state.add({ traceId: 7, flowId: 1, recircId: 0, pass: root.trace, parents: [] });
    const v = state.verdict();
    expect(v).toMatchObject({ kinds: ['recirculate'], incomplete: true });
    expect(v.incompleteReason).toContain(`recirculation ${root.trace.verdict.recircIds[0]} queued by trace 7 (recirc_id 0x0) has no pass in the path`);
  });

  it('a path without its first pass (a NATed pass linked to no parent) is incomplete and says so', () => {
    const nodes = packetNodes(version, 'lb-vip');
    const output = nodes.find((n) => n.trace.verdict.kind === 'output')!;
    const state = new PathState();
    state.add({ traceId: 9, flowId: 1, recircId: Number(output.trace.recircId), pass: output.trace, parents: [] });
    const v = state.verdict();
    expect(v).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp3'], incomplete: true });
    expect(v.incompleteReason).toContain(`no first pass (recirc_id 0): the pass of trace 9 (recirc_id ${output.trace.recircId}) has no parent in the path`);
  });
});

/** The key text with the ct_tuple's destination port changed (a different connection). */
function retuple(key: ReturnType<typeof parseKey>): string {
  return formatKey(key).replace(/(ct_tuple4\([^)]*tp_dst=)80/, '$18080');
}

describe('controller reasons', () => {
  it('reads the opcode from the userdata, unknown opcodes by number', () => {
    expect(userdataOpcode('controller(userdata=00.00.00.0a.00.00.00.00.ff)')).toBe(10);
    expect(userdataOpcode('controller(userdata=00.00.00.00.00.00.00.00,pause)')).toBe(0);
    expect(userdataOpcode('controller(reason=no_match)')).toBeNull();
    expect(reasonOfOpcode(0)).toBe('ARP resolution');
    expect(reasonOfOpcode(9)).toBe('ND resolution');
    expect(reasonOfOpcode(999)).toBe('OVN controller action, opcode 999');
  });

  it('a paused controller trace disagrees when the installed actions before userspace() differ', () => {
    const f = packetFlows('ovs-3.5.0_ovn-25.03.0', 'unresolved-next-hop').find((x) => /continuation=1/.test(x.actions))!;
    expect(compareTracedActions(f.pass, f.actions).same).toBe(true);
    const other = f.actions.replace('set(ipv4(ttl=63))', 'set(ipv4(ttl=62))');
    expect(compareTracedActions(f.pass, other).same).toBe(false);
    // Without the paused step in the trace, the userspace() is not explained either.
    const noSteps = { ...f.pass, steps: [] };
    expect(compareTracedActions(noSteps, f.actions).same).toBe(false);
  });
});
