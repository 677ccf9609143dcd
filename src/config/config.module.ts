import { DynamicModule, Global, Module } from '@nestjs/common';
import { LivetraceConfig } from './config.schema';

export const LIVETRACE_CONFIG = Symbol('LIVETRACE_CONFIG');

/** The validated configuration, loaded once before Nest starts (so a bad value never half-starts the app). */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: LivetraceConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: LIVETRACE_CONFIG, useValue: config }], exports: [LIVETRACE_CONFIG] };
  }
}
