// read-workers/ — the reader threads: `GET /traces` pages and the audits (GET /logical-flows/:uuid/
// datapath-flows, GET /northbound/:table/:uuid/datapath-flows) read and written as JSON on
// connections of their own, off the event loop (LIVETRACE_READ_WORKERS of them). A folder of its own
// because a thread that runs both imports both features, and logical-flows builds on traces: the
// features provide the plain reads (trace-read-store.ts, logical-flow-store.ts's readAudit) and take
// the pool through their services' useReader, so neither imports this folder.
//
// May import: traces, logical-flows (their read functions and services), shared (storage, common,
// config).
//
// Entry point: ReadWorkersModule (ReadWorkersService: the one pool of the process).
export {};
