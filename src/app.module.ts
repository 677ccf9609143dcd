import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { ConfigModule } from './config/config.module';
import { LivetraceConfig } from './config/config.schema';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { StorageModule } from './storage/storage.module';

@Module({})
export class AppModule {
  static forRoot(config: LivetraceConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.LIVETRACE_LOG_LEVEL,
            // Health probes and scrapes every few seconds would drown the log.
            autoLogging: { ignore: (req) => ['/health', '/metrics'].includes(req.url ?? '') },
          },
        }),
        StorageModule,
        MetricsModule,
        HealthModule,
      ],
    };
  }
}
