// The spool's bound (LIVETRACE_SPOOL_MAX_CHANGES, with PostgreSQL away long enough) as the writers
// of datapath flow lifetimes obey it: the poller and the vswitchd log source. One owner of the check
// (the shipper's state.full, the one the tracer drops new traces by and the ingest refuses batches
// by) and of the metric that accounts for every lifetime write it held back. The policy both follow:
// a new lifetime is a row that grows the spool with the flows' churn, so it waits, and is stored
// once there is room if the flow is still installed (or lost, had it ended); a stored one's counters
// wait; the end of a stored one is written all the same: it changes a row the spool already holds
// (at most one more change to ship), and without it the lifetime would stay open in the history for
// good, answering for every later time.
import { Inject, Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import { StoreService } from '../storage/store.service';

/**
 * dropped_spool_full: a new lifetime not stored; stored_late: stored once there was room;
 * lost_spool_full: ended before there was room (no row, no end); lost_unchecked: given up, its
 * checks in the datapath failing (vlog-check-answer.ts MAX_FAILED_CHECKS); deferred_spool_full: a
 * stored lifetime's counters held back.
 */
export type LifetimeWriteOutcome = 'dropped_spool_full' | 'stored_late' | 'lost_spool_full' | 'lost_unchecked' | 'deferred_spool_full';

@Injectable()
export class LifetimeSpoolBound {
  private readonly writes: Counter<'outcome'>;

  constructor(
    @Inject(StoreService) private readonly store: Pick<StoreService, 'shipper'>,
    metrics: MetricsService,
  ) {
    this.writes = new Counter({
      name: 'livetrace_datapath_flow_writes_total',
      help: 'Lifetime writes held back by a full spool (LIVETRACE_SPOOL_MAX_CHANGES): dropped_spool_full (a start), stored_late (stored once it had room), lost_spool_full (ended before), lost_unchecked (given up: its checks kept failing), deferred_spool_full (counters)',
      labelNames: ['outcome'],
      registers: [metrics.registry],
    });
  }

  /** Read at write time, inside the writer's job: the spool's state when the row would land. */
  get full(): boolean {
    return this.store.shipper?.state.full === true;
  }

  count(outcome: LifetimeWriteOutcome, n = 1): void {
    if (n > 0) this.writes.inc({ outcome }, n);
  }
}
