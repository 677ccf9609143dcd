// A pass's verdict from its own `Datapath actions`: where the packet leaves (logical ports through
// dpif/show names and the OVS interfaces' iface-id, a container port by its tag on its parent's VIF), which chassis a tunnel goes to, recirculation,
// controller, or a drop with the logical flow (and northbound row) responsible. One pass only: a
// packet's path verdict over all its passes is paths/path-verdict.ts (the one path verdict).
import type { OdpAction } from '../ovs/odp-actions';
import { OFPP_LOCAL, type DpifDatapath } from '../ovs/dpif-show';
import { tunnelPushes, type PortTypeOf, type TunnelPush } from '../ovs/odp-tunnel';
import type { OvnModel } from '../ovn/ovn-model';
import { controllerCause, onlyLogCopies } from './controller-reason';
import { fieldValue } from './ports';
import { containerPortOf, portVlanRules } from './port-vlan-rules';
import { cookieUnowned, unownedCookieWhy } from '../ovn/evpn-flows';
import type { AnnotatedStep, ControllerVerdict, DropCause, TracePort, TunnelTarget, Verdict, VerdictKind } from './types';

export interface VerdictInput {
  readonly datapathActions: string;
  readonly parsed: readonly OdpAction[] | null;
  readonly parseError: string | null;
  readonly translationFailed: string | null;
  readonly steps: readonly AnnotatedStep[];
  readonly lastOutport: TracePort | null;
  /**
   * Every outport the pass set, in order. A flood hands copies to several ports and ovn-controller
   * takes the group's members in its own order: the localnet copy need not be the last.
   */
  readonly outports?: readonly TracePort[];
  readonly dpifPortNames?: ReadonlyMap<number, string> | null;
  readonly dpifPortTypes?: ReadonlyMap<string, string> | null;
  /** dpif/show's LOCAL ports (OpenFlow port 65534, each named as its bridge). */
  readonly dpifLocalPorts?: ReadonlySet<string> | null;
  /** The logical ports the pass came in by: a localnet port it came in by gets nothing back (OVN's loopback check). */
  readonly inports?: readonly TracePort[];
  /** The chassis that ran the pass: a kernel push has no source IP, and the tunnel's keys may depend on who sent it. */
  readonly chassis?: string | null;
}

export interface VerdictResult {
  readonly verdict: Verdict;
  readonly ports: TracePort[];
}

/** Port names and types of one datapath, for the verdict (built once per dpif/show, not per trace). */
export function dpifMaps(dp: DpifDatapath | null | undefined): { names: Map<number, string>; types: Map<string, string>; locals: Set<string> } | null {
  if (!dp) return null;
  const names = new Map<number, string>();
  const types = new Map<string, string>();
  const locals = new Set<string>();
  for (const b of dp.bridges) for (const p of b.ports) {
    if (p.odpPort !== null) names.set(p.odpPort, p.name);
    types.set(p.name, p.type);
    if (p.ofport === OFPP_LOCAL) locals.add(p.name);
  }
  return { names, types, locals };
}

/**
 * The pass's tunnel pushes, read by the one push parser (odp-tunnel.ts): ofproto/trace prints
 * `out_port(1)` and port numbers, the installed flow a detrace pass holds (`dump-flows -m`)
 * `out_port(br-phys)` and `genev_sys_6081`, and both must name the same targets. None when the
 * actions are not understood.
 */
function pushesOf(text: string, portType: PortTypeOf): TunnelPush[] {
  try {
    return tunnelPushes(text, portType);
  } catch {
    return [];
  }
}

/** Where the pushes go: the remote chassis, and OVN's switch and port decoded from the tunnel. */
function tunnelsOf(pushes: TunnelPush[], model: OvnModel, chassis: string | null): TunnelTarget[] {
  return pushes.map((p) => {
    // A flood's egress key is a Multicast_Group's, no logical port: portByKeys finds none and outport stays null.
    const keys = model.tunnelKeys(p, chassis);
    const dp = keys ? model.datapathByKey(keys.datapath) : null;
    const outport = keys?.egress ? model.portByKeys(keys.datapath, keys.egress) : null;
    return { chassis: model.chassisByIp(p.remoteIp), remoteIp: p.remoteIp, tunnelId: p.vni, datapath: dp?.name ?? null, outport: outport?.logicalPort ?? null };
  });
}

/**
 * Every action in order, with the VLAN the packet carries at it (the last push_vlan not popped; null
 * untagged): a container port's copy is an output to its parent's VIF between push_vlan and pop_vlan.
 * A clone or a check_pkt_len branch works on its own copy of the packet.
 *
 * `underlay`: the action acts on a packet a tnl_push before it in its list encapsulated. The userspace
 * datapath goes on through the underlay bridge (tnl_push's out_dev, NORMAL there): its outputs
 * (`clone(tnl_push(…),101)`, 101 a NIC) carry the tunnel, they are not where the packet itself went.
 */
function walk(
  actions: readonly OdpAction[],
  f: (a: OdpAction, vlan: number | null, underlay: boolean) => void,
  outer: readonly (number | null)[] = [],
  underlay = false,
): void {
  const vlans = [...outer];
  let encapsulated = underlay;
  for (const a of actions) {
    f(a, vlans.at(-1) ?? null, encapsulated);
    if (a.type === 'call' && a.name === 'push_vlan') {
      const vid = a.args.find((x) => x.name === 'vid')?.value;
      vlans.push(vid !== undefined && /^\d+$/.test(vid) ? Number(vid) : null);
    } else if (a.type === 'word' && a.name === 'pop_vlan') vlans.pop();
    else if (a.type === 'call' && a.name === 'tnl_push') encapsulated = true;
    else if (a.type === 'clone') walk(a.actions, f, vlans, encapsulated);
    else if (a.type === 'check_pkt_len') {
      walk(a.gt, f, vlans, encapsulated);
      walk(a.le, f, vlans, encapsulated);
    }
  }
}

// `drop;` or, for ACL drops in 23.03 and the ACL action stage of newer OVN, an action list whose
// drop is only the comment `/* drop */`.
const DROP_ACTION = /(^|[;\s{])drop;|\/\* drop \*\//;

/**
 * A `userspace(…)` datapath action that is a packet-in for the controller: its cookie is
 * `controller(…)` (OVS >= 2.17) or `slow_path(controller)`. The other cookies (`flow_sample`,
 * `ipfix`, `sFlow`: OVN's drop and ACL sampling among them) send a copy to a sampling collector
 * and are not where the packet went.
 */
function isPacketIn(a: OdpAction & { type: 'call' }): boolean {
  return a.args.some((x) => x.name === 'controller' || (x.name === 'slow_path' && (x.args ?? []).some((y) => y.name === 'controller')));
}

/**
 * When every packet-in of the actions is in the `gt` branch of a `check_pkt_len(size=N,…)` (OVN's
 * check_pkt_larger: an ICMP "fragmentation needed" for packets over a gateway_mtu), N: only packets
 * longer than N bytes go to ovn-controller, the others take the `le` branch. Null otherwise.
 */
function longOnlyPacketIn(actions: readonly OdpAction[]): number | null {
  let size: number | null = null;
  let elsewhere = false;
  const visit = (list: readonly OdpAction[], under: number | null): void => {
    for (const a of list) {
      if (a.type === 'call' && a.name === 'userspace' && isPacketIn(a)) {
        if (under === null) elsewhere = true;
        else size = under;
      } else if (a.type === 'clone') visit(a.actions, under);
      else if (a.type === 'check_pkt_len') {
        visit(a.gt, Number(a.size));
        visit(a.le, under);
      }
    }
  };
  visit(actions, null);
  return elsewhere ? null : size;
}

// The first owner is the one the rule came from (annotate.ts orders a collision's owners): a rule
// owned by a Port_Binding whose cookie a logical flow shares is no logical flow's.
const lfOf = (s: AnnotatedStep) => s.owners[0]?.logicalFlow;

/**
 * ACL tiers (OVN >= 23.09): `ls_*_acl_eval` (whose logical flow carries the ACL's stage-hint) sets a
 * reg8 bit, `ls_*_acl_action` (no stage-hint) executes the decision: `reg8[17] == 1` drops,
 * `reg8[18] == 1` rejects. Stages are known by their southbound stage-name, never by table number:
 * the decision is the last step of the pass in the matching `_eval` stage of the same pipeline and
 * datapath that set the bit the executing flow matched. Steps are searched in any order (detrace
 * lists rules in cache order), preferring the one nearest before the execution.
 */
function aclDecision(steps: readonly AnnotatedStep[], exec: AnnotatedStep): AnnotatedStep | undefined {
  const lf = lfOf(exec);
  if (!lf?.stage || !/_acl(_after_lb)?_action$/.test(lf.stage)) return undefined;
  const evalStage = lf.stage.replace(/_action$/, '_eval');
  const bit = /reg8\[(\d+)\]\s*==\s*1/.exec(lf.match)?.[1];
  // A flow that tests no verdict bit decides by itself: the priority-0 `1` of the action stage drops
  // under NB_Global options:default_acl_drop when no ACL set a verdict (the eval stage only went on).
  if (bit === undefined) return undefined;
  const sets = new RegExp(`reg8\\[${bit}\\]\\s*=\\s*1\\s*;`);
  const dps = new Set(lf.datapaths.map((d) => d.uuid));
  const candidates = steps.filter((s) => {
    const f = lfOf(s);
    return f && f.stage === evalStage && f.pipeline === lf.pipeline && sets.test(f.actions) && (dps.size === 0 || f.datapaths.some((d) => dps.has(d.uuid)));
  });
  const before = candidates.filter((s) => s.seq < exec.seq);
  return before[before.length - 1] ?? candidates[candidates.length - 1];
}

/**
 * Who dropped: the last matched logical flow whose actions drop (else the last one that ran). When
 * that flow only executes a decision taken by another (ACL tiers), the cause is the deciding flow
 * (with the ACL it came from) and `executedBy` names the flow that dropped.
 */
export function dropCause(steps: readonly AnnotatedStep[]): DropCause | undefined {
  let last: AnnotatedStep | undefined;
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i];
    const lf = lfOf(s);
    if (!lf) continue;
    if (!last) last = s;
    if (!DROP_ACTION.test(lf.actions)) continue;
    const decided = aclDecision(steps, s);
    if (!decided) return { stepSeq: s.seq, logicalFlowUuid: lf.uuid, hint: s.hint, stage: lf.stage };
    const d = lfOf(decided)!;
    return {
      stepSeq: decided.seq,
      logicalFlowUuid: d.uuid,
      hint: decided.hint,
      stage: d.stage,
      executedBy: { stepSeq: s.seq, logicalFlowUuid: lf.uuid, stage: lf.stage },
    };
  }
  const rule = physicalDrop(steps);
  if (rule) return rule;
  if (!last) return undefined;
  const lf = lfOf(last);
  return { stepSeq: last.seq, logicalFlowUuid: lf?.uuid ?? null, hint: last.hint, stage: lf?.stage ?? null };
}

/**
 * No logical flow dropped, but a rule of ovn-controller's physical tables (no logical flow owns its
 * cookie) whose only action is `drop` matched: that rule dropped the packet, not the last logical
 * flow that ran (which only sent it on, e.g. `outport = "lsp1"; output;`). The one OVN installs for
 * every port drops a packet whose logical outport is its inport unless the pipeline allowed loopback
 * (physical.c, OFTABLE_CHECK_LOOPBACK: `reg10=0/0x1,reg14=K,reg15=K,metadata=D actions=drop`).
 */
function physicalDrop(steps: readonly AnnotatedStep[]): DropCause | undefined {
  // Where the pipeline ended is a rule whose cookie no southbound row owns: no logical flow is named.
  // An EVPN rule of ovn-controller's never has an owner; any other's is unknown. Annotation said which
  // (the step's controllerFlow, evpn-flows.ts).
  let end: AnnotatedStep | undefined;
  for (let i = steps.length - 1; i >= 0 && !end; i--) if (steps[i].outcome === 'match') end = steps[i];
  if (end && cookieUnowned(end, end.owners)) {
    const why = `dropped where OpenFlow table ${end.table}'s rule with cookie ${end.cookie} ended the pipeline; that rule ${unownedCookieWhy(end.controllerFlow)}`;
    return { stepSeq: end.seq, logicalFlowUuid: null, hint: null, stage: null, rule: { table: end.table, owner: end.controllerFlow ? 'ovn-controller EVPN' : null, why } };
  }
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i];
    if (s.outcome !== 'match' || lfOf(s) || s.actions.trim() !== 'drop' || cookieUnowned(s, s.owners)) continue;
    const o = s.owners[0];
    const owner = o ? `${o.table} ${o.name ?? o.uuid}` : null;
    const inport = fieldValue(s.match, 'reg14');
    const loopback = inport !== undefined && inport === fieldValue(s.match, 'reg15');
    const why =
      `dropped by OpenFlow table ${s.table}${owner ? ` (${owner})` : ''}, a rule of ovn-controller's, not a logical flow` +
      (loopback ? ': the logical outport is the inport and loopback is not allowed' : '');
    return { stepSeq: s.seq, logicalFlowUuid: null, hint: null, stage: null, rule: { table: s.table, owner, why } };
  }
  return undefined;
}

/** The ACL (or other northbound row) behind a controller action: an ACL reject names its ACL. */
function withControllerHint(cause: ControllerVerdict | undefined, steps: readonly AnnotatedStep[]): ControllerVerdict | undefined {
  if (!cause) return cause;
  const step = steps.find((s) => s.seq === cause.stepSeq);
  if (!step) return cause;
  const decided = aclDecision(steps, step);
  const hint = decided?.hint ?? step.hint;
  return hint ? { ...cause, hint } : cause;
}

export function passVerdict(input: VerdictInput, model: OvnModel): VerdictResult {
  const ports: TracePort[] = [];
  if (input.translationFailed) {
    return { verdict: { kind: 'error', outputs: [], tunnels: [], recircIds: [], reason: `translation failed: ${input.translationFailed}`, dropBy: dropCause(input.steps) }, ports };
  }
  if (!input.parsed) {
    return { verdict: { kind: 'error', outputs: [], tunnels: [], recircIds: [], reason: `datapath actions not understood: ${input.parseError ?? input.datapathActions}` }, ports };
  }
  const outputs: string[] = [];
  const unmapped: string[] = [];
  const bridgeLocal: string[] = [];
  const recircIds: string[] = [];
  let controller = false;
  let tunnelPorts = 0;
  let cause = withControllerHint(controllerCause(input.steps), input.steps);
  // A kernel push on a non-default dst_port names its port by number only: dpif/show knows its type,
  // and the set(tunnel(…)) before it says it is a tunnel port without dpif/show.
  // dpif/show names a port printed by number (the kernel datapath's actions).
  const dpifName = (port: string): string => (/^\d+$/.test(port) ? (input.dpifPortNames?.get(Number(port)) ?? port) : port);
  const portType: PortTypeOf = (port) => input.dpifPortTypes?.get(dpifName(port));
  const pushes = pushesOf(input.datapathActions, portType);
  const kernelTunnelPorts = new Set(pushes.filter((p) => p.form === 'set_tunnel').map((p) => p.tunnelPort));
  const longOnly = longOnlyPacketIn(input.parsed);
  if (cause && longOnly !== null) cause = { ...cause, reason: `${cause.reason}, for packets longer than ${longOnly} bytes only (check_pkt_len): shorter ones take the other branch` };
  const vlanRules = portVlanRules(input.steps);
  walk(input.parsed, (a, vlan, underlay) => {
    if (a.type === 'recirc') recircIds.push(a.id);
    else if (a.type === 'call' && a.name === 'userspace') controller ||= isPacketIn(a);
    else if (a.type === 'call' && a.name === 'tnl_push') tunnelPorts++;
    else if (a.type === 'output' && !underlay) {
      const name = dpifName(a.port);
      const type = input.dpifPortTypes?.get(name);
      if (type === 'geneve' || type === 'vxlan' || type === 'stt' || /^(genev|vxlan|stt)_sys_/.test(name) || kernelTunnelPorts.has(a.port)) {
        tunnelPorts++;
        return;
      }
      // A bridge's NORMAL flood (the provider bridge's, of a broadcast or an unknown MAC) also reaches
      // its LOCAL port, the host's interface named as the bridge. OVN never outputs there: that copy is
      // the bridge's, neither a localnet port's delivery nor an output to a port nothing stands for.
      if (input.dpifLocalPorts?.has(name) || model.isBridgeLocal(name)) {
        if (!bridgeLocal.includes(name)) bridgeLocal.push(name);
        return;
      }
      const iface = model.interfaceByName(name);
      // A tagged copy to a VIF is its container port's when that port's own rule pushed the tag there.
      const container = iface?.ifaceId && iface.ofport !== null && vlan !== null ? containerPortOf(vlanRules, iface.ifaceId, iface.ofport, vlan) : null;
      const lp = container ?? iface?.ifaceId;
      if (lp) {
        if (!outputs.includes(lp)) outputs.push(lp);
        const p = model.portByName(lp);
        const via = `output:${a.port}${container ? ` vlan ${vlan}` : ''}`;
        ports.push({ logicalPort: lp, portBindingUuid: p?.portBindingUuid ?? null, datapath: p?.datapath?.name ?? null, role: 'output', chassis: p?.chassis ?? null, via, scope: 'pass' });
      } else unmapped.push(name);
    }
  });
  // A physical NIC (localnet bridge) has no iface-id: the logical port is the localnet outport.
  // A copy to the localnet port the pass came in by is dropped by OVN's loopback check: whatever
  // the provider bridge floods on is not that port's delivery.
  const isLocalnet = (p: TracePort | null | undefined) => !!p && !input.inports?.some((i) => i.logicalPort === p.logicalPort) && model.portByName(p.logicalPort)?.type === 'localnet';
  const localnet = isLocalnet(input.lastOutport) ? input.lastOutport : [...(input.outports ?? [])].reverse().find(isLocalnet);
  if (unmapped.length && localnet) {
    const lp = localnet.logicalPort;
    if (!outputs.includes(lp)) outputs.push(lp);
    ports.push({ ...localnet, role: 'output', via: `output:${unmapped.join(',')}` });
  }
  const tunnels = tunnelPorts ? tunnelsOf(pushes, model, input.chassis ?? null) : [];
  for (const t of tunnels) {
    if (t.outport) ports.push({ logicalPort: t.outport, portBindingUuid: null, datapath: t.datapath ?? null, role: 'tunnel_out', chassis: t.chassis, via: `tunnel:${t.remoteIp}`, scope: 'pass' });
  }
  const kinds: VerdictKind[] = [];
  // The bridge's LOCAL copy is the packet's output only when OVN's pipeline never ran (no logical
  // inport or outport: a packet of the host's bridge alone); otherwise the pass's fate is OVN's (a
  // drop stays a drop) and bridgeLocal names the host's copy beside it.
  const ovnRan = !!input.lastOutport || !!input.outports?.length || !!input.inports?.length;
  if (outputs.length || unmapped.length || (bridgeLocal.length && !ovnRan)) kinds.push('output');
  if (tunnelPorts) kinds.push('tunnel');
  if (recircIds.length) kinds.push('recirculate');
  // ofproto/trace of OVS >= 3.2 freezes at a paused controller action and prints no userspace()
  // in its Datapath actions (it has no side effects), while the installed flow has one: the step's
  // `controller(…,pause)` says where the packet went.
  // A packet-in that only carries a copy to log (ACL log) is told, but the packet's fate is the rest.
  const logCopy = controller && !cause?.paused && onlyLogCopies(input.steps);
  if ((controller && !logCopy) || cause?.paused) kinds.push('controller');
  const base = {
    outputs,
    tunnels,
    recircIds,
    // The NICs a localnet port stands for are named by its output port's `via`; unmappedOutputs are those nothing stands for.
    ...(unmapped.length && !localnet ? { unmappedOutputs: unmapped } : {}),
    ...(bridgeLocal.length ? { bridgeLocal } : {}),
    ...((kinds.includes('controller') || logCopy) && cause ? { controller: logCopy ? { ...cause, copy: true as const } : cause } : {}),
  };
  if (kinds.length === 0) {
    const dropBy = dropCause(input.steps);
    return { verdict: { kind: 'drop', ...base, ...(dropBy ? { dropBy } : {}), reason: dropBy ? dropBy.rule?.why : 'no logical flow ran' }, ports };
  }
  const reason = kinds.includes('controller') && base.controller ? `controller: ${base.controller.reason}${base.controller.paused ? ' (paused, ovn-controller resumes the packet)' : ''}` : undefined;
  return { verdict: { kind: kinds.length === 1 ? kinds[0] : 'mixed', ...base, ...(reason ? { reason } : {}) }, ports };
}
