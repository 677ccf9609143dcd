// ingest/ — external producers (USDT scripts, retis, a patched ovs-vswitchd) feeding the v1 events
// as HTTP NDJSON (POST /ingest/events, /ingest/retis, /ingest/close-lifetimes): validated,
// translations annotated, written through the writer with a ledger (table ingest_event) so that a
// repeated event is a no-op.
//
// May import: traces, upcalls, datapath-flows (their stores), shared, model (correlation), low (ovs).
//
// Entry point: IngestModule.
