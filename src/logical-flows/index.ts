// logical-flows/ — the audits: which datapath flows a logical flow or a northbound object (ACL,
// NAT, …) took part in, with what outcome, answered from the snapshots and citations the traces
// stored: GET /logical-flows/:uuid[/datapath-flows], GET /northbound/:table/:uuid/datapath-flows.
//
// May import: traces, datapath-flows (their stores' tables), shared (storage, common, openapi,
// replicas).
//
// Entry point: LogicalFlowsModule.
