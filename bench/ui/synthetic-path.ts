// The path bench/ui draws: 5 passes of 30 logical stages each, in the shape of GET /paths/:id?include=steps.
const STAGES: Array<[string, string]> = [
  ['ingress', 'ls_in_check_port_sec'], ['ingress', 'ls_in_pre_acl'], ['ingress', 'ls_in_pre_lb'], ['ingress', 'ls_in_pre_stateful'],
  ['ingress', 'ls_in_acl_hint'], ['ingress', 'ls_in_acl'], ['ingress', 'ls_in_lb'], ['ingress', 'ls_in_stateful'], ['ingress', 'ls_in_l2_lkup'],
  ['egress', 'ls_out_pre_acl'], ['egress', 'ls_out_pre_lb'], ['egress', 'ls_out_acl_hint'], ['egress', 'ls_out_acl'], ['egress', 'ls_out_stateful'],
  ['ingress', 'lr_in_admission'], ['ingress', 'lr_in_ip_input'], ['ingress', 'lr_in_ip_routing'], ['ingress', 'lr_in_arp_resolve'],
];
const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
const uuid = (n: number) => `${hex(n * 2654435761 >>> 0, 8)}-0000-4000-8000-${hex(n, 12)}`;

/** 5 passes x 30 stages; datapaths sw0 -> lr0 -> sw1 inside a pass; an ACL or port hint every 7th; the last pass dropped by an ACL. */
export function syntheticPath(passes = 5, perPass = 30) {
  let n = 0;
  const out = [];
  for (let p = 0; p < passes; p++) {
    const steps = [];
    for (let i = 0; i < perPass; i++, n++) {
      const [pipeline, stage] = STAGES[i % STAGES.length];
      const dp = i < 10 ? 'sw0' : i < 20 ? 'lr0' : 'sw1';
      const hint = i % 7 === 3 ? { table: 'ACL', uuid: uuid(100000 + (n % 11)), summary: `ACL: from-lport, priority=${1000 + (n % 11)}, match=(inport == "lsp${n % 4}" && ip4), allow-related` } : null;
      steps.push({
        seq: i, depth: 0, bridge: 'br-int', table: 8 + i, priority: 100, cookie: `0x${uuid(n).slice(0, 8)}`,
        match: `ip,reg14=0x1,metadata=0x${(i % 3) + 1}`, actions: `set_field:0x1->reg0\nresubmit(,${9 + i})`,
        owners: [{ table: 'Logical_Flow', uuid: uuid(n), stale: false, datapaths: [{ name: dp, uuid: uuid(900 + i), nbUuid: null }], pipeline, tableId: i % 30, stage, priority: 100, match: 'ip4 && inport == "lsp1"', actions: 'next;', source: 'northd.c:1' }],
        collision: false, northbound: hint,
      });
    }
    const last = p === passes - 1;
    const dropFlow = steps[perPass - 1].owners[0].uuid;
    if (last) steps[perPass - 1].northbound = { table: 'ACL', uuid: uuid(424242), summary: 'ACL: to-lport, priority=1002, match=(outport == "lsp3" && udp.dst == 53), drop' };
    out.push({
      id: p + 1, ufid: uuid(5000 + p), chassis: 'hv1', bridge: 'br-int', createdAt: new Date().toISOString(), method: 'trace', recircId: p ? `0x${p}` : '0x0',
      flow: `recirc_id=0x${p},ct_state=new|trk,udp,in_port=1,nw_src=10.0.0.1,nw_dst=10.0.0.3,tp_src=5353,tp_dst=53`, finalFlow: '', megaflow: '',
      datapathActions: last ? 'drop' : `ct(zone=1),recirc(0x${p + 1})`, consistent: true, consistentReason: null, pathId: 1, datapathFlowId: 10 + p, sessionId: 1,
      verdict: last ? { kinds: ['drop'], logicalPorts: [], logicalFlow: dropFlow, northbound: steps[perPass - 1].northbound, tunnels: [], recircIds: [], reason: null } : { kinds: ['recirculate'], logicalPorts: [], logicalFlow: null, northbound: null, tunnels: [], recircIds: [`0x${p + 1}`], reason: null },
      logicalPorts: [], stepCount: perPass, steps,
    });
  }
  const lastPass = out[out.length - 1];
  return {
    id: 1, chassis: 'hv1', createdAt: out[0].createdAt, updatedAt: out[0].createdAt,
    verdict: { ...lastPass.verdict, passes, incomplete: false, dropTraceId: lastPass.id },
    passes: out,
    edges: out.slice(1).map((p, i) => ({ parentDatapathFlowId: 10 + i, childDatapathFlowId: p.datapathFlowId, recircId: p.recircId })),
  };
}
