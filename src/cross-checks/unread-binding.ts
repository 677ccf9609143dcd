// A routed packet's next hop resolved, in the datapath, from state ovn-trace does not read, seen from
// both sides of a cross-check. The router's get_arp / get_nd resubmits to OpenFlow table 66, where
// ovn-controller installed a rule for each southbound MAC_Binding row, and beside them:
//  - a rule for each EVPN neighbour it learned from the kernel's neighbour table on the switch's EVPN
//    bridge (OVN 26.03, evpn-flows.ts), never in the southbound;
//  - a rule for each southbound Static_MAC_Binding row (OVN 22.06 on: ovn-nbctl static-mac-binding-add).
// ovn-trace's get_arp reads the southbound's MAC_Binding only (utilities/ovn-trace.c read_mac_bindings,
// every release so far: it has never read Static_MAC_Binding), so it finds no binding (an ARP request /
// neighbour solicitation at the next stage) or another one. The two differ by state ovn-trace does not
// read, not by a logical flow: the answer stays "diverged", as a router's first sight does
// (learned-binding.ts), and names what the datapath used and where to look.
import { evpnNeighbour, macBindingRule, type Neighbour } from '../ovn/evpn-flows';
import type { OwnerJson, StepJson } from '../traces';
import { type LiveFlowJson, type LivePassWithSteps, liveFlowText, type SimFlowJson, simFlowText } from './live-segments';
import type { Pipeline, SimPipeline } from './ovn-trace-parse';

const LOOKUP = /\b(get_arp|get_nd)\s*\(/;
/** What ovn-trace's get_arp / get_nd found (ovn-trace.c execute_get_mac_bind / execute_get_nd). */
const SIM_FOUND = /^\/\* (?:No MAC binding|MAC binding to ([0-9a-f]{2}(?::[0-9a-f]{2}){5}))\. \*\/$/i;

/** State the datapath's get_arp / get_nd found that ovn-trace does not read. */
interface UnreadBinding extends Neighbour {
  /** "the datapath used <this>, which ovn-trace does not read". */
  what: string;
  /** The rule's owner, for "the datapath's found <this> (OpenFlow table …)". */
  rule: string;
  seeIt: string;
}

/** The state a table-66 rule the live path went through stands for, when ovn-trace does not read it. */
function unreadBinding(step: StepJson): UnreadBinding | null {
  if (step.controllerFlow?.role === 'neighbour') {
    const n = evpnNeighbour(step);
    if (!n) return null;
    return {
      ...n,
      what: `EVPN neighbour ${n.ip} → ${n.mac}, learned from the kernel's neighbour table,`,
      rule: "ovn-controller's rule for the neighbour",
      seeIt: "'ip neigh show nud noarp' on the switch's EVPN bridge and 'ovn-appctl evpn/vtep-arp-list'",
    };
  }
  const row = step.owners.find((o) => o.table === 'Static_MAC_Binding');
  const b = row ? macBindingRule(step) : null;
  if (!row || !b) return null;
  return {
    ...b,
    what: `Static_MAC_Binding ${b.ip} → ${b.mac} on ${row.name ?? '?'},`,
    rule: `ovn-controller's rule for the Static_MAC_Binding (row ${row.uuid.slice(0, 8)})`,
    seeIt: "'ovn-nbctl static-mac-binding-list' and 'ovn-sbctl list Static_MAC_Binding'",
  };
}

interface BindingLookup {
  binding: UnreadBinding;
  step: StepJson;
  /** The logical flow whose get_arp / get_nd resubmitted to the binding's rule. */
  lookup: OwnerJson;
}

/** The live passes' get_arp / get_nd that a rule for state ovn-trace does not read answered. */
function unreadLookups(passes: readonly LivePassWithSteps[]): BindingLookup[] {
  const out: BindingLookup[] = [];
  for (const pass of passes) {
    let last: OwnerJson | undefined;
    for (const step of pass.steps ?? []) {
      const lflow = step.owners.find((o) => o.table === 'Logical_Flow');
      if (lflow) {
        last = lflow;
        continue;
      }
      if (!last || !LOOKUP.test(last.actions ?? '')) continue;
      const binding = unreadBinding(step);
      if (binding && !binding.lookup) out.push({ binding, step, lookup: last });
    }
  }
  return out;
}

/**
 * The explanation of a stage of a router's pipeline where the live path and ovn-trace differ after a
 * get_arp / get_nd that, in the datapath, a rule for state ovn-trace does not read answered (an EVPN
 * neighbour, a Static_MAC_Binding) and that found no binding, or another MAC, in ovn-trace; null otherwise.
 */
export function unreadBindingExplanation(
  at: { where: string; pipeline: Pipeline; datapath: string; tableId: number },
  passes: readonly LivePassWithSteps[],
  sim: SimPipeline,
  live: LiveFlowJson | null,
  simulated: SimFlowJson | null,
): string | null {
  for (const { binding, step, lookup } of unreadLookups(passes)) {
    if (lookup.pipeline !== at.pipeline || lookup.tableId === undefined || lookup.tableId > at.tableId) continue;
    if (!lookup.datapaths?.some((d) => d.name === at.datapath)) continue;
    const stage = sim.stages.find((s) => s.table === lookup.tableId);
    const found = stage && LOOKUP.test(stage.actions.join(' ')) ? stage.actions.map((a) => SIM_FOUND.exec(a)).find((m) => m !== null) : undefined;
    if (!stage || !found || found[1]?.toLowerCase() === binding.mac) continue;
    const fn = LOOKUP.exec(stage.actions.join(' '))![1];
    const simFound = found[1] ? `the southbound's MAC_Binding ${binding.ip} → ${found[1].toLowerCase()}` : `no MAC binding for ${binding.ip}`;
    const s = simFlowText(simulated) || 'no logical flow (implicit drop)';
    const differ = live ? `the datapath ran ${liveFlowText(live)} where ovn-trace ran ${s}` : `ovn-trace ran ${s}, a stage the live path did not visit`;
    return (
      `At ${at.where} ${differ}: the datapath used ${binding.what} which ovn-trace does not read. ` +
      `Both ran ${fn} at ${stage.stage ?? `table ${stage.table}`} (logical flow ${stage.uuid ?? lookup.uuid.slice(0, 8)}): ` +
      `the datapath's found ${binding.rule} (OpenFlow table ${step.table}, cookie ${step.cookie}), ovn-trace's, ` +
      `which reads the southbound's MAC_Binding only, found ${simFound}. See it with ${binding.seeIt}.`
    );
  }
  return null;
}
