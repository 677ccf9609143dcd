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
import { UpcallsModule } from '../upcalls/upcalls.module';
import { VlogSourceService } from './vlog-source.service';

/** The ovs-vswitchd side: connection, datapath poller, tracer, and the sessions that steer it. */
@Module({
  imports: [TracesModule, TerminusModule, UpcallsModule],
  controllers: [TraceSessionsController, OnDemandTraceController],
  providers: [VswitchdService, PollerService, TracerService, TraceSessionsService, VswitchdHealthIndicator, VlogSourceService],
  exports: [VswitchdService, PollerService, TracerService, TraceSessionsService, VswitchdHealthIndicator, VlogSourceService],
})
export class CollectorsModule {}
