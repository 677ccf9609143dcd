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
}
