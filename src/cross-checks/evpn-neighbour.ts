// A routed packet's next hop resolved from an EVPN neighbour (OVN 26.03), seen from both sides of a
// cross-check. The router's get_arp / get_nd resubmits to OpenFlow table 66, where ovn-controller
// installed, beside the southbound MAC_Binding rows' rules and above them, a rule for each neighbour
// it learned from the kernel's neighbour table on the switch's EVPN bridge (evpn-flows.ts): the
// datapath gets that MAC and goes on. ovn-trace's get_arp reads the southbound's MAC_Binding only,
// where such a neighbour never is, so it finds no binding (an ARP request / neighbour solicitation
// at the next stage) or a stale one. The two differ by state ovn-trace does not read, not by a
// logical flow: the answer stays "diverged", as a router's first sight does (learned-binding.ts),
// and names the neighbour and where to look.
import { evpnNeighbour, type Neighbour } from '../ovn/evpn-flows';
import type { OwnerJson, StepJson } from '../traces';
import { type LiveFlowJson, type LivePassWithSteps, liveFlowText, type SimFlowJson, simFlowText } from './live-segments';
import type { Pipeline, SimPipeline } from './ovn-trace-parse';

const LOOKUP = /\b(get_arp|get_nd)\s*\(/;
/** What ovn-trace's get_arp / get_nd found (ovn-trace.c execute_get_mac_bind / execute_get_nd). */
const SIM_FOUND = /^\/\* (?:No MAC binding|MAC binding to ([0-9a-f]{2}(?::[0-9a-f]{2}){5}))\. \*\/$/i;

interface NeighbourLookup {
  neighbour: Neighbour;
  step: StepJson;
  /** The logical flow whose get_arp / get_nd resubmitted to the neighbour's rule. */
  lookup: OwnerJson;
}

/** The live passes' get_arp / get_nd that the rule of an EVPN neighbour answered. */
function neighbourLookups(passes: readonly LivePassWithSteps[]): NeighbourLookup[] {
  const out: NeighbourLookup[] = [];
  for (const pass of passes) {
    let last: OwnerJson | undefined;
    for (const step of pass.steps ?? []) {
      const lflow = step.owners.find((o) => o.table === 'Logical_Flow');
      if (lflow) {
        last = lflow;
        continue;
      }
      if (step.controllerFlow?.role !== 'neighbour' || !last || !LOOKUP.test(last.actions ?? '')) continue;
      const neighbour = evpnNeighbour(step);
      if (neighbour && !neighbour.lookup) out.push({ neighbour, step, lookup: last });
    }
  }
  return out;
}

/**
 * The explanation of a stage of a router's pipeline where the live path and ovn-trace differ after a
 * get_arp / get_nd that an EVPN neighbour's rule answered in the datapath and that found no binding,
 * or another MAC, in ovn-trace; null otherwise.
 */
export function evpnNeighbourExplanation(
  at: { where: string; pipeline: Pipeline; datapath: string; tableId: number },
  passes: readonly LivePassWithSteps[],
  sim: SimPipeline,
  live: LiveFlowJson | null,
  simulated: SimFlowJson | null,
): string | null {
  for (const { neighbour, step, lookup } of neighbourLookups(passes)) {
    if (lookup.pipeline !== at.pipeline || lookup.tableId === undefined || lookup.tableId > at.tableId) continue;
    if (!lookup.datapaths?.some((d) => d.name === at.datapath)) continue;
    const stage = sim.stages.find((s) => s.table === lookup.tableId);
    const found = stage && LOOKUP.test(stage.actions.join(' ')) ? stage.actions.map((a) => SIM_FOUND.exec(a)).find((m) => m !== null) : undefined;
    if (!stage || !found || found[1]?.toLowerCase() === neighbour.mac) continue;
    const fn = LOOKUP.exec(stage.actions.join(' '))![1];
    const simFound = found[1] ? `the southbound's MAC_Binding ${neighbour.ip} → ${found[1].toLowerCase()}` : `no MAC binding for ${neighbour.ip}`;
    const s = simFlowText(simulated) || 'no logical flow (implicit drop)';
    const differ = live ? `the datapath ran ${liveFlowText(live)} where ovn-trace ran ${s}` : `ovn-trace ran ${s}, a stage the live path did not visit`;
    return (
      `At ${at.where} ${differ}: the datapath used EVPN neighbour ${neighbour.ip} → ${neighbour.mac}, learned from the kernel's neighbour table, ` +
      `which ovn-trace does not read. Both ran ${fn} at ${stage.stage ?? `table ${stage.table}`} (logical flow ${stage.uuid ?? lookup.uuid.slice(0, 8)}): ` +
      `the datapath's found ovn-controller's rule for the neighbour (OpenFlow table ${step.table}, cookie ${step.cookie}), ovn-trace's, ` +
      `which reads the southbound's MAC_Binding only, found ${simFound}. ` +
      "See it with 'ip neigh show nud noarp' on the switch's EVPN bridge and 'ovn-appctl evpn/vtep-arp-list'."
    );
  }
  return null;
}
