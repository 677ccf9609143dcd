// health/ — GET /health: the replicas, ovs-vswitchd and the store, each up or down with why; the
// details only to the token holder.
//
// May import: collectors (the vswitchd indicator), shared (storage, common, config, replicas).
//
// Entry point: HealthModule.
