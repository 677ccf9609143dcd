import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import { StoreService } from '../storage/store.service';

/**
 * The central PostgreSQL store (issue 19), when LIVETRACE_DB names one. Down while the shipper
 * cannot reach it: the process goes on into its spool (`spooling`), and the details say how much
 * waits, since when and why. The same facts are metrics, so an outage is graphed, not only probed.
 */
@Injectable()
export class CentralHealthIndicator {
  constructor(
    private readonly store: StoreService,
    private readonly health: HealthIndicatorService,
    metrics: MetricsService,
  ) {
    const shipper = store.shipper;
    if (!shipper) return;
    const r = metrics.registry;
    new Gauge({ name: 'livetrace_ship_up', help: '1 while PostgreSQL takes the spool’s changes', registers: [r], collect() { this.set(shipper.state.up ? 1 : 0); } });
    new Gauge({ name: 'livetrace_ship_backlog', help: 'Changed rows in the spool waiting for PostgreSQL', registers: [r], collect() { this.set(shipper.state.backlog); } });
    new Gauge({ name: 'livetrace_ship_spool_full', help: '1 while the spool holds LIVETRACE_SPOOL_MAX_CHANGES or more', registers: [r], collect() { this.set(shipper.state.full ? 1 : 0); } });
    let seenRows = 0;
    let seenDropped = 0;
    let seenReship = 0;
    // Counters follow the shipper's own totals at scrape time.
    new Counter({ name: 'livetrace_ship_rows_total', help: 'Rows written to PostgreSQL by the shipper', registers: [r], collect() { this.inc(shipper.state.shippedRows - seenRows); seenRows = shipper.state.shippedRows; } });
    // Kept for the dashboards that scrape it: the same count as livetrace_traces_total{outcome="dropped_spool_full"}, never to be added to it.
    new Counter({ name: 'livetrace_ship_dropped_total', help: 'Traces not stored because the spool was full: livetrace_traces_total{outcome="dropped_spool_full"} under its older name', registers: [r], collect() { this.inc(shipper.state.dropped - seenDropped); seenDropped = shipper.state.dropped; } });
    new Counter({ name: 'livetrace_ship_reship_failures_total', help: 'Failed attempts to ship again the lifetimes PostgreSQL\'s retention took from this slot while it was silent (ship-pruned.ts)', registers: [r], collect() { this.inc(shipper.state.reshipFailures - seenReship); seenReship = shipper.state.reshipFailures; } });
  }

  /** Only with PostgreSQL: a SQLite store has nothing to report here. */
  get enabled(): boolean {
    return this.store.shipper !== undefined;
  }

  async check(key = 'central') {
    const indicator = this.health.check(key);
    const { shipper, central } = this.store;
    if (!shipper || !central) return indicator.up({ store: 'sqlite' });
    const s = shipper.state;
    const data = {
      // The traces a full spool dropped are vswitchd's traceDropped.spoolFull: one number in /health.
      store: 'postgres', url: central.url, slot: central.slot, backlog: s.backlog, spoolFull: s.full, lastShippedAt: s.lastShippedAt,
      // Up all the same (the batches ship): traces may cite lifetimes PostgreSQL lacks until it succeeds.
      ...(s.reshipError !== null ? { reshipError: s.reshipError } : {}),
    };
    // The shipper only meets PostgreSQL when it has something to ship: ask it now as well (an api
    // instance ships almost nothing, and its reads need the server).
    const missed = s.up ? await this.ping() : null;
    if (missed !== null) shipper.noteDown(missed);
    if (s.up) return indicator.up(data);
    return indicator.down({ ...data, spooling: true, since: s.since, reason: s.lastError ?? 'not reached yet' });
  }

  /** null when PostgreSQL answers within 2 s, else why not. */
  private async ping(): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.store.query.get('SELECT 1 AS ok'),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within 2 s')), 2000))),
      ]);
      return null;
    } catch (err) {
      return (err as Error).message;
    } finally {
      clearTimeout(timer);
    }
  }
}
