// paths/ — one packet's path: its passes (traces) linked by the recirculation edges, in edge order,
// and its one verdict (where the packet went, what dropped it, why it went to ovn-controller,
// which pass is missing). Tables: path (and the path_id of trace), chassis_mark. GET /paths/:id, across chassis:
// a pass that leaves through a tunnel continues on the chassis that received it (cross-chassis.ts,
// the link itself in tunnel-link.ts), and one that leaves by a localnet port on the chassis that took
// the frame in from the physical network (localnet-hops.ts, the link in localnet-link.ts), found at read time; GET /traces?logical_port= lists a routed
// packet's passes there after the pass that sent them (port-arrivals.ts).
//
// May import: traces (the stored passes), shared (storage, common, config, replicas, openapi), model
// (correlation), low (ovs: the tunnel parser for cross-chassis links).
// Never collectors or cross-checks: they build on it.
//
// Entry points: PathsModule, exporting PathRecorder (the tracer stores a pass into its packet's
// path; POST /traces a hand-typed flow's simulated passes as one path, recordSimulated) and PathBuilder (every reader: GET /paths/:id, the cross-check); pathVerdict, the one
// verdict function; edgeOrder, the one pass order; linkTunnels/senderOf, the one cross-chassis link;
// writeMark/tellCentralMark, an agent's chassis_mark (how far its traces are stored: provisional.ts reads it).
export { otherChassisMarked, tellCentralMark, writeMark, type ChassisMark } from './chassis-mark-store';
export { edgeOrder, type FlowEdge, type OrderedPass } from './edge-order';
export { PathBuilder, type BuiltPath } from './path-builder';
export { PathRecorder, type PassToRecord, type RecordedPass } from './path-recorder';
export { isComplete, passOfStored, pathVerdict, type PassSummary, type StoredPathVerdict } from './path-verdict';
export { linkTunnels, senderOf, type LinkFlow } from './tunnel-link';
