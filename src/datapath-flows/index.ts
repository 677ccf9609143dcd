// datapath-flows/ — datapath flow lifetimes (tables datapath_flow, recirc_edge) and the routes that
// read them: GET /datapath-flows, GET /datapath-flows/:ufid.
//
// May import: traces (a lifetime's traces), shared (storage, common, openapi), ovs (a tunnel
// arrival's and a push's signatures, written with its lifetime).
//
// Entry points: DatapathFlowStoreModule (DatapathFlowStore: the one way into the lifetimes, for
// the poller, the vlog source and ingest), DatapathFlowsModule (the routes); a lifetime's JSON
// shape and the row it is read from, re-exported here (the logical-flow audits show lifetimes too).
export * from './datapath-flow-json';
