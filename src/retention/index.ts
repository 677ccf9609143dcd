// retention/ — prunes the oldest traces by age and count, with the paths and ended datapath flow
// lifetimes nothing cites any more, in small writer jobs every minute.
//
// May import: traces (what a trace cites), shared (storage, config, metrics). It sits above the
// features whose rows it prunes; nothing imports it but the app.
//
// Entry point: RetentionModule (RetentionService).
