// Each feature module registers its own entities (TypeOrmModule.forFeature, collected by
// autoLoadEntities); the typeorm CLI has no modules and finds them by file name
// (src/storage/entities.ts). Both must see the same tables, and those must be exactly what the
// migrations build: otherwise `migration:generate` writes a migration nobody asked for, or an
// entity file is missing from the app.
import { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../../src/storage/data-source.options';
import { entityFiles } from '../../../src/storage/entities';
import { startApp } from '../../support/app';

const tablesOf = (ds: DataSource): string[] => ds.entityMetadatas.map((m) => m.tableName).sort();

describe('entities', () => {
  let app: INestApplication;
  let cli: DataSource;

  beforeAll(async () => {
    app = await startApp();
    cli = new DataSource({ ...dataSourceOptions(':memory:'), entities: entityFiles(), logging: false });
    await cli.initialize();
    await cli.runMigrations();
  });

  afterAll(async () => {
    await cli?.destroy();
    await app?.close();
  });

  it('the app registers the same entities as the *.entity.ts files the CLI finds', () => {
    expect(tablesOf(app.get(DataSource))).toEqual(tablesOf(cli));
  });

  it('the migrations build exactly the tables of the entities, with nothing left to generate', async () => {
    const migrated = (await cli.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('migrations', 'sqlite_sequence')")) as Array<{ name: string }>;
    expect(migrated.map((r) => r.name).sort()).toEqual(tablesOf(cli));
    for (const ds of [cli, app.get(DataSource)]) {
      const pending = await ds.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
    }
  });
});
