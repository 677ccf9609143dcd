import { BeforeApplicationShutdown, DynamicModule, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import { ConfigModule } from './config/config.module';
import { LivetraceConfig } from './config/config.schema';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { ReplicasModule } from './replicas/replicas.module';
import { StorageModule } from './storage/storage.module';
import { RetentionModule } from './retention/retention.module';
import { TracesModule } from './traces/traces.module';
import { CollectorsModule } from './collectors/collectors.module';
import { DatapathFlowsModule } from './datapath-flows/datapath-flows.module';
import { PathsModule } from './paths/paths.module';
import { TraceSessionsModule } from './trace-sessions/trace-sessions.module';
import { LogicalFlowsModule } from './logical-flows/logical-flows.module';
import { ReadWorkersModule } from './read-workers/read-workers.module';
import { UpcallsModule } from './upcalls/upcalls.module';
import { IngestModule } from './ingest/ingest.module';
import { CrossChecksModule } from './cross-checks/cross-checks.module';
import { UiModule } from './ui/ui.module';
import { APP_FILTER } from '@nestjs/core';
import { ApiErrorFilter } from './common/api-error';
import { requestLogOptions } from './common/request-log';

@Module({})
export class AppModule implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly log = new Logger('Lifecycle');

  beforeApplicationShutdown(signal?: string): void {
    this.log.log(`shutting down${signal ? ` on ${signal}` : ''}: closing sources, flushing the writer, closing storage`);
  }

  onApplicationShutdown(signal?: string): void {
    this.log.log(`stopped${signal ? ` (${signal})` : ''}`);
  }

  static forRoot(config: LivetraceConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({
          pinoHttp: [
            requestLogOptions(config.LIVETRACE_LOG_LEVEL),
            // Synchronous: the last lines before a signal re-raise must not be lost in a buffer.
            pino.destination({ dest: 1, sync: true }),
          ],
        }),
        StorageModule,
        RetentionModule,
        MetricsModule,
        ReplicasModule,
        HealthModule,
        TracesModule,
        TraceSessionsModule,
        CollectorsModule,
        DatapathFlowsModule,
        PathsModule,
        LogicalFlowsModule,
        ReadWorkersModule,
        UpcallsModule,
        IngestModule,
        CrossChecksModule,
        UiModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: ApiErrorFilter },
      ],
    };
  }
}
