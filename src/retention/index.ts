// retention/ — prunes the oldest traces by age, count and the store's size on disk
// (LIVETRACE_RETENTION_MAX_MB: size-retention-store.ts), with the paths and ended datapath flow
// lifetimes nothing cites any more, in small writer jobs every minute (retention.ts). With
// PostgreSQL and LIVETRACE_CENTRAL_RETENTION_* set, two retentions instead: the spool forgets,
// muted, what PostgreSQL holds and the agent can no longer change (spool-retention-store.ts), and one
// process at a time prunes PostgreSQL by its own limits (central-retention-store.ts), and the rules,
// snapshots and OVN objects of the writer slots gone for good (central-dead-slot-store.ts).
//
// May import: traces, paths, datapath-flows (the stores of the rows it prunes), shared (storage,
// config, metrics). It sits above those features; nothing imports it but the app.
//
// Entry point: RetentionModule (RetentionService).
