// The vswitchd log source's Prometheus metrics, in one place: what it read, refused, was told was
// dropped, linked, left unstored, and what waits in memory. The source counts; this names and explains.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface VlogMetrics {
  records: Counter;
  refused: Counter;
  dropped: Counter;
  upcalls: Counter;
  upcallsDropped: Counter;
  unwritten: Counter;
  rotations: Counter;
  waiting: Gauge;
  heldBack: Gauge;
}

/** Registered in `registry`; `heldBack` is read at each scrape (VlogLifetimes.heldBack). */
export function vlogMetrics(registry: Registry, heldBack: () => number): VlogMetrics {
  const registers = [registry];
  return {
    records: new Counter({ name: 'livetrace_vlog_records_total', help: 'vswitchd log records read, by kind', labelNames: ['kind'], registers }),
    refused: new Counter({
      name: 'livetrace_vlog_records_refused_total',
      help: 'vswitchd log records read and refused, saying what the daemon cannot have logged (vlog-refuse.ts), by reason: bad_recirc_id, bad_dropped_count, error',
      labelNames: ['reason'],
      registers,
    }),
    dropped: new Counter({ name: 'livetrace_vlog_dropped_messages_total', help: 'Log messages ovs-vswitchd said it dropped (rate limit): upcalls are sampled', registers }),
    upcalls: new Counter({ name: 'livetrace_vlog_upcalls_total', help: 'Upcalls read from the log, by whether their installed flow was found', labelNames: ['linked'], registers }),
    upcallsDropped: new Counter({
      name: 'livetrace_vlog_upcalls_dropped_total',
      help: 'Upcalls read from the log and not stored, by reason: spool_full (LIVETRACE_SPOOL_MAX_CHANGES)',
      labelNames: ['reason'],
      registers,
    }),
    unwritten: new Counter({
      name: 'livetrace_vlog_events_dropped_total',
      help: 'Log events read and never stored, their write failing past its retries, failing alone (an error of their own), or the oldest past the bound on those waiting (vlog-write-retry.ts), by kind: upcall, flow (an install), flow_del, checked (a check of a lifetime), held',
      labelNames: ['kind'],
      registers,
    }),
    rotations: new Counter({ name: 'livetrace_vlog_rotations_total', help: 'Log file rotations seen', labelNames: ['kind'], registers }),
    waiting: new Gauge({ name: 'livetrace_vlog_upcalls_waiting', help: 'Upcalls waiting for the flow they installed', registers }),
    heldBack: new Gauge({
      name: 'livetrace_vlog_lifetimes_held_back',
      help: 'New lifetimes from the log held in memory while the spool is full (vlog-lifetimes.ts)',
      registers,
      collect() {
        this.set(heldBack());
      },
    }),
  };
}
