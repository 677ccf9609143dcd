// The tracer's Prometheus metrics: every flow handled, by outcome (never silent), the queue depth
// and the last first-sight → stored delay. One owner, injected wherever an outcome is decided.
import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import { StoreService } from '../storage/store.service';

@Injectable()
export class TracerMetrics {
  private readonly traces: Counter<'outcome'>;
  private readonly queue: Gauge;
  private readonly latency: Gauge;

  constructor(metrics: MetricsService, store: StoreService) {
    const registers = [metrics.registry];
    let seenSpoolFull = 0;
    this.traces = new Counter({
      name: 'livetrace_traces_total',
      help: 'Datapath flows handled by the tracer, by outcome',
      labelNames: ['outcome'],
      registers,
      // The spool-full drops are the shipper's one count (ShipperState.dropped), read at scrape time,
      // so this outcome and livetrace_ship_dropped_total cannot tell two stories.
      collect() {
        const n = store.shipper?.state.dropped ?? 0;
        if (n > seenSpoolFull) this.inc({ outcome: 'dropped_spool_full' }, n - seenSpoolFull);
        seenSpoolFull = n;
      },
    });
    this.queue = new Gauge({ name: 'livetrace_trace_queue_depth', help: 'Datapath flows waiting to be traced', registers });
    this.latency = new Gauge({ name: 'livetrace_trace_latency_seconds', help: 'Time from a flow being seen to its trace being stored (last)', registers });
  }

  count(outcome: string): void {
    this.traces.inc({ outcome });
  }

  queueDepth(n: number): void {
    this.queue.set(n);
  }

  stored(enqueuedAt: number): void {
    this.traces.inc({ outcome: 'stored' });
    this.latency.set((Date.now() - enqueuedAt) / 1000);
  }
}
