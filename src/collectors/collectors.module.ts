import { Module } from '@nestjs/common';
import { TraceSessionsController } from '../trace-sessions/trace-sessions.controller';
import { TraceSessionsService } from '../trace-sessions/trace-sessions.service';
import { TracesModule } from '../traces/traces.module';
import { PollerService } from './poller.service';
import { OnDemandTraceController } from './on-demand.controller';
import { TracerService } from './tracer.service';
import { VswitchdService } from './vswitchd.service';
import { VswitchdHealthIndicator } from './vswitchd.health';
import { TerminusModule } from '@nestjs/terminus';

/** The ovs-vswitchd side: connection, datapath poller, tracer, and the sessions that steer it. */
@Module({
  imports: [TracesModule, TerminusModule],
  controllers: [TraceSessionsController, OnDemandTraceController],
  providers: [VswitchdService, PollerService, TracerService, TraceSessionsService, VswitchdHealthIndicator],
  exports: [VswitchdService, PollerService, TracerService, TraceSessionsService, VswitchdHealthIndicator],
})
export class CollectorsModule {}
