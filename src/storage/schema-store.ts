// What /health says about the database itself: its journal mode (the writer needs WAL), how many
// migrations have run, and its file. Through TypeORM's connection, as the migrations ran.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

@Injectable()
export class SchemaStore {
  constructor(private readonly dataSource: DataSource) {}

  /** SQLite's journal mode (`wal`, `delete`, `memory`…). */
  async journalMode(): Promise<string> {
    const [{ journal_mode: mode }] = (await this.dataSource.query('PRAGMA journal_mode')) as Array<{ journal_mode: string }>;
    return mode;
  }

  /** Migrations recorded as run. */
  async migrationCount(): Promise<number> {
    const rows = (await this.dataSource.query('SELECT count(*) AS n FROM migrations')) as Array<{ n: number }>;
    return rows[0].n;
  }

  /** The database file (':memory:' for none). */
  get file(): unknown {
    return this.dataSource.options.database;
  }
}
