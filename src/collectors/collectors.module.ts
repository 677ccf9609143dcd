import { Module } from '@nestjs/common';
import { DatapathFlowStoreModule } from '../datapath-flows/datapath-flow-store.module';
import { TraceSessionsModule } from '../trace-sessions/trace-sessions.module';
import { TracesModule } from '../traces/traces.module';
import { PollerService } from './poller.service';
import { OnDemandTraceController } from './on-demand.controller';
import { TracerService } from './tracer.service';
import { VswitchdService } from './vswitchd.service';
import { VswitchdHealthIndicator } from './vswitchd.health';
import { TerminusModule } from '@nestjs/terminus';
import { UpcallsModule } from '../upcalls/upcalls.module';
import { VlogSourceService } from './vlog-source.service';

/** The ovs-vswitchd side: connection, datapath poller, vlog source and the tracer the sessions steer. */
@Module({
  imports: [TracesModule, TerminusModule, UpcallsModule, TraceSessionsModule, DatapathFlowStoreModule],
  controllers: [OnDemandTraceController],
  providers: [VswitchdService, PollerService, TracerService, VswitchdHealthIndicator, VlogSourceService],
  exports: [VswitchdService, PollerService, TracerService, VswitchdHealthIndicator, VlogSourceService],
})
export class CollectorsModule {}
