// traces/ — the stored, annotated passes (tables trace, trace_port, trace_citation,
// logical_port_alias, of_rule, logical_flow_snapshot, ovn_object) and the routes that read them:
// GET /traces (queries run in a worker thread), GET /traces/:id (JSON, or ovn-detrace's layout
// with ?format=text), GET /traces/stream (server-sent events).
//
// May import: shared (storage, common, config, metrics, openapi, replicas), model (correlation,
// ovn), low (ovs). No other feature: this is the bottom feature, the others build on it.
//
// Entry points: TracesModule, exporting TracesService (read a trace as the API shows it) and
// TraceStore (the one way to write a pass); the JSON shapes of a trace, re-exported here; the
// shape of the stream's far-pass look, which the paths feature gives it (stream-far-look.ts).
export * from './trace-record';
export { citationsOf } from './step-pack';
export { BUCKET_SHIFT } from './citation-store';
export type { FarSince, IdRange } from './stream-far-look';
