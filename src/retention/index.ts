// retention/ — prunes the oldest traces by age and count, with the paths and ended datapath flow
// lifetimes nothing cites any more, in small writer jobs every minute.
//
// May import: traces, paths, datapath-flows (the stores of the rows it prunes), shared (storage,
// config, metrics). It sits above those features; nothing imports it but the app.
//
// Entry point: RetentionModule (RetentionService).
