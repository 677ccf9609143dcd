// How long the poller waits between dumps of the datapath's flows.

/**
 * The wait after a dump that took `dumpMs`: at least the configured interval, grown to keep
 * ovs-vswitchd's dump work under `maxShare` of the time, but never past half of vswitchd's max-idle.
 * A flow that carried one packet stays installed about max-idle, so a wait longer than that misses it
 * for good: on a loaded host a dump's wall time grows with the CPU's queue, not with vswitchd's work,
 * and a 0.5 s dump at the default share of 0.05 would wait 10 s, the default max-idle. Past the cap
 * the share is exceeded rather than flows lost. A configured interval longer than the cap is the
 * operator's choice and stands.
 */
export function nextPollIntervalMs(intervalMs: number, dumpMs: number, maxShare: number, maxIdleMs: number): number {
  return Math.max(intervalMs, Math.min(dumpMs / maxShare, maxIdleMs / 2));
}
