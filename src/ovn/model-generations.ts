// Which replica changes move which of the OVN model's generations (ovn-model.ts). Apart from the
// model's caches because these rules are what a port session's cost rests on: topologyGeneration
// recomputes its port target, routingGeneration its route walk (trace-sessions/port-target.ts), and
// the walk must not follow the far more frequent rows (logical flows, MAC and FDB bindings, a VM
// port's switch port or binding) while it must follow every row it reads. Pure: a row change in, a
// verdict out.
import type { ReplicaRow, RowChange } from '../ovsdb/replica/replica';

/** SB tables every cached answer may depend on (names, groups, chassis): a change clears all, and bumps topologyGeneration. */
const SHARED_SB = new Set(['Datapath_Binding', 'Logical_DP_Group', 'Chassis', 'Port_Binding']);
/** The NB rows of the topology (switch ports' addresses, routers, their ports and routes): topologyGeneration. */
const TOPOLOGY_NB = new Set(['Logical_Switch', 'Logical_Switch_Port', 'Logical_Router', 'Logical_Router_Port', 'Logical_Router_Static_Route']);
/** The NB rows a port session's route walk reads (routers, their ports, static routes): routingGeneration. */
const ROUTING_NB = new Set(['Logical_Router', 'Logical_Router_Port', 'Logical_Router_Static_Route']);
/** Binding types that join datapaths (patch, l3gateway) or stand for a router's gateway port (chassisredirect). */
const LINK_TYPES = new Set(['patch', 'l3gateway', 'chassisredirect']);
/** The NB rows natRewrites reads: its answer is dropped when one of them changes. */
const REWRITE_TABLES = new Set(['Load_Balancer', 'NAT', 'Logical_Router', 'Logical_Router_Port', 'Load_Balancer_Group']);

/** Whether a southbound binding is one the route walk follows: a link between datapaths (options:peer) or of a link's type. */
function isLink(pb: ReplicaRow | undefined): boolean {
  return !!pb && (LINK_TYPES.has(String(pb.type ?? '')) || !!((pb.options ?? {}) as Record<string, string>).peer);
}

/** What a southbound row change moves: `shared`, every cache (and topologyGeneration); `routing`, routingGeneration. */
export function sbChangeMoves(c: RowChange): { shared: boolean; routing: boolean } {
  return {
    shared: SHARED_SB.has(c.table),
    // Every Datapath_Binding; a Port_Binding that is or was a link (a VM port's is neither).
    routing: c.table === 'Datapath_Binding' || (c.table === 'Port_Binding' && (isLink(c.row) || isLink(c.old))),
  };
}

/** What a northbound row change moves: the two generations, and whether natRewrites is read again. */
export function nbChangeMoves(table: string): { topology: boolean; routing: boolean; rewrites: boolean } {
  return { topology: TOPOLOGY_NB.has(table), routing: ROUTING_NB.has(table), rewrites: REWRITE_TABLES.has(table) };
}
