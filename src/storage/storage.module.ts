import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { dataSourceOptions } from './data-source.options';
import { Meta } from './meta.entity';
import { SchemaStore } from './schema-store';
import { StoreService } from './store.service';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [LIVETRACE_CONFIG],
      // Migrations run before the app serves anything; synchronize stays off. Each feature module
      // registers its own entities (TypeOrmModule.forFeature), collected here.
      useFactory: (cfg: LivetraceConfig) => ({ ...dataSourceOptions(cfg.LIVETRACE_DB), autoLoadEntities: true, migrationsRun: true }),
    }),
    TypeOrmModule.forFeature([Meta]),
  ],
  providers: [StoreService, SchemaStore],
  exports: [StoreService, SchemaStore],
})
export class StorageModule {}
