// cross-checks/ — a live path against ovn-trace: the microflow built from the path, ovn-trace run
// and parsed, compared stage by stage (table cross_check). On request (POST /traces/:id/cross-check,
// GET /traces/:id/cross-checks, GET /cross-checks/:id) or for every completed path of a session
// created with crossCheck.
//
// May import: paths (the path and its verdict), traces, trace-sessions, collectors (the tracer's
// completed paths), shared (storage, common, config, metrics, replicas), model (ovn, correlation), low (ovs).
//
// Entry point: CrossChecksModule (CrossChecksService).
