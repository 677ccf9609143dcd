// trace-sessions/ — what live traffic to trace (a logical port and/or an OpenFlow filter), for how
// long and how much (table trace_session), and /trace-sessions.
//
// May import: shared (storage, common, config, openapi, replicas), model (ovn: the one reading of
// a tunnel's keys, datapath names, a router's routes), low (ovs: the filter parser, ODP keys), paths (which chassis exist), traces
// (tells it which session ids exist, for ?session=).
// The tracer (collectors) asks the sessions, never the other way round.
//
// Entry point: TraceSessionsModule (TraceSessionsService: the active sessions, which flows each
// wants, their counters).
export type { SessionFlow } from './session-selector';
export { decidedFor } from './session-selector';
