import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Registry } from 'prom-client';

/** One registry per app instance (tests start several apps in one process). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  constructor() {
    this.registry.setDefaultLabels({ service: 'ovn-livetrace' });
    collectDefaultMetrics({ register: this.registry, prefix: 'livetrace_' });
  }

  /**
   * The text a scrape gets. prom-client 15 writes a NaN value as `Nan` (lib/util.js getValueAsString);
   * the text format 0.0.4 spells it `NaN`, and strict readers refuse the other. A NaN here is real: the
   * event-loop lag gauges read NaN when no delay was sampled since the last scrape (two scrapes within
   * the monitor's resolution). Only a sample line's last field is rewritten, never a comment or a label.
   */
  async exposition(): Promise<string> {
    return (await this.registry.metrics()).replace(/^([^#\n][^\n]*) Nan$/gm, '$1 NaN');
  }
}
