import { Global, Module } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, DataSourceOptions } from 'typeorm';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { CENTRAL, localFile, openCentral } from './central';
import { dataSourceOptions } from './data-source.options';
import { Meta } from './meta.entity';
import { SchemaStore } from './schema-store';
import { migrateStore } from './spool-indexes';
import { MigrationLockTimeout, sqliteMigrationWait, SqliteMigrationWait } from './sqlite-migrate';
import { ShipLogEntry, ShipMute } from './spool.entity';
import { StoreService } from './store.service';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [LIVETRACE_CONFIG],
      // Migrations run before the app serves anything; synchronize stays off. Each feature module
      // registers its own entities (TypeOrmModule.forFeature), collected here.
      useFactory: (cfg: LivetraceConfig) => ({
        ...dataSourceOptions(localFile(cfg)),
        autoLoadEntities: true,
        migrationWait: sqliteMigrationWait(cfg),
        // A start that waited its bound for another process's write lock fails at once, naming the
        // holder: tried again it waits the whole bound again, ten times over.
        toRetry: (err: unknown) => !(err instanceof MigrationLockTimeout),
      }),
      // migrateStore, not migrationsRun: a spool gets back the indexes it dropped before a migration
      // sees it, and processes starting together on one file migrate it one at a time.
      dataSourceFactory: async (options) => {
        const { migrationWait, ...dsOptions } = options as typeof options & { migrationWait: SqliteMigrationWait };
        const ds = await new DataSource(dsOptions as DataSourceOptions).initialize();
        try {
          await migrateStore(ds, migrationWait);
        } catch (err) {
          // As migrationsRun did: a failed start leaves no handle open while Nest tries again.
          await ds.destroy().catch(() => undefined);
          throw err;
        }
        return ds;
      },
    }),
    TypeOrmModule.forFeature([Meta, ShipLogEntry, ShipMute]),
  ],
  providers: [
    // PostgreSQL (LIVETRACE_DB=postgres://…) or null; StoreService waits for it.
    { provide: CENTRAL, inject: [LIVETRACE_CONFIG, getDataSourceToken()], useFactory: (cfg: LivetraceConfig, ds: DataSource) => openCentral(cfg, ds) },
    StoreService,
    SchemaStore,
  ],
  exports: [StoreService, SchemaStore],
})
export class StorageModule {}
