// collectors/ — the sources of this chassis: the ovs-vswitchd connection, the datapath poller
// (dump-flows diffed into lifetimes, recirculation edges), the vlog source (upcalls from the log
// file or syslog; without the poller, lifetimes too, their unlogged ends found by vlog-gone-check) and the tracer (the flows the sessions want, queued under a rate limit, traced by
// ofproto/detrace or ofproto/trace, annotated, stored, chained into paths). Routes that drive them:
// POST /traces (a hand-typed flow), POST /datapath-flows/:ufid/trace (an installed flow, now).
//
// May import: traces, paths, upcalls, datapath-flows (their stores), trace-sessions (which flows
// they want), shared (storage, common, config, metrics, openapi, replicas), model (correlation),
// low (ovs, unixctl).
//
// Entry point: CollectorsModule, exporting VswitchdService, PollerService, TracerService,
// VlogSourceService and VswitchdHealthIndicator (for /health and the cross-checks).
