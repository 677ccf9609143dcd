import { Module } from '@nestjs/common';
import { DatapathFlowStoreModule } from '../datapath-flows/datapath-flow-store.module';
import { PathsModule } from '../paths/paths.module';
import { TraceSessionsService } from '../trace-sessions/trace-sessions.service';
import { TraceSessionsModule } from '../trace-sessions/trace-sessions.module';
import { TracesModule } from '../traces/traces.module';
import { DatapathPorts } from './datapath-ports';
import { FlowTracer } from './flow-tracer';
import { LifetimeSpoolBound } from './lifetime-spool-bound';
import { POLL_SCOPE } from './poll-scope';
import { PollerService } from './poller.service';
import { OnDemandTraceController } from './on-demand.controller';
import { DatapathFlowTraceController } from './datapath-flow-trace.controller';
import { TracerMetrics } from './tracer-metrics';
import { TracerService } from './tracer.service';
import { VswitchdService } from './vswitchd.service';
import { VswitchdHealthIndicator } from './vswitchd.health';
import { TerminusModule } from '@nestjs/terminus';
import { UpcallsModule } from '../upcalls/upcalls.module';
import { VlogSourceService } from './vlog-source.service';

/** The ovs-vswitchd side: connection, datapath poller, vlog source and the tracer the sessions steer. */
@Module({
  imports: [TracesModule, TerminusModule, UpcallsModule, TraceSessionsModule, DatapathFlowStoreModule, PathsModule],
  controllers: [OnDemandTraceController, DatapathFlowTraceController],
  providers: [
    VswitchdService,
    PollerService,
    // The sessions say which in_ports the poller dumps (LIVETRACE_POLL_SCOPE=sessions).
    { provide: POLL_SCOPE, useExisting: TraceSessionsService },
    TracerService,
    FlowTracer,
    DatapathPorts,
    TracerMetrics,
    VswitchdHealthIndicator,
    VlogSourceService,
    // The spool's bound as the poller and the vlog source write lifetimes: one check, one metric.
    LifetimeSpoolBound,
  ],
  exports: [VswitchdService, PollerService, TracerService, VswitchdHealthIndicator, VlogSourceService],
})
export class CollectorsModule {}
