import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { dataSourceOptions } from './data-source.options';
import { StoreService } from './store.service';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [LIVETRACE_CONFIG],
      // Migrations run before the app serves anything; synchronize stays off.
      useFactory: (cfg: LivetraceConfig) => ({ ...dataSourceOptions(cfg.LIVETRACE_DB), migrationsRun: true }),
    }),
  ],
  providers: [StoreService],
  exports: [StoreService],
})
export class StorageModule {}
