import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { PollerService } from './poller.service';
import { TracerService } from './tracer.service';
import { VswitchdService } from './vswitchd.service';

/** ovs-vswitchd is up when its control socket answers; the details carry the poller's last cycle. */
@Injectable()
export class VswitchdHealthIndicator {
  constructor(
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    private readonly vswitchd: VswitchdService,
    private readonly poller: PollerService,
    private readonly tracer: TracerService,
    private readonly health: HealthIndicatorService,
  ) {}

  check() {
    const s = this.vswitchd.status();
    const data = {
      ...s,
      poller: this.config.LIVETRACE_POLLER ? { lastCycle: this.poller.lastCycle, lastError: this.poller.lastError } : 'disabled',
      traceQueue: this.tracer.queueDepth,
      // Each cause its own count: the queue full (this process too slow), the spool full (PostgreSQL).
      traceDropped: { ...this.tracer.dropped },
    };
    const ok = this.config.LIVETRACE_POLLER ? !!this.poller.lastCycle && !this.poller.lastError : s.lastError === null;
    return ok ? this.health.check('vswitchd').up(data) : this.health.check('vswitchd').down(data);
  }
}
