// Which in_ports the poller needs to dump (LIVETRACE_POLL_SCOPE=sessions): the trace sessions know,
// and the module binds them to this token, so the poller asks its own injected scope instead of
// having a callback set on it from outside.
export const POLL_SCOPE = Symbol('POLL_SCOPE');

export interface PollScope {
  /** The in_ports every active session is confined to, or null when one needs all flows. */
  inPortScope(): string[] | null;
}
