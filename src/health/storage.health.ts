import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';

/** Storage is up when SQLite answers and is in WAL mode (the writer depends on it). */
@Injectable()
export class StorageHealthIndicator {
  constructor(
    private readonly dataSource: DataSource,
    private readonly health: HealthIndicatorService,
  ) {}

  async check(key = 'storage') {
    const indicator = this.health.check(key);
    try {
      const [{ journal_mode: mode }] = await this.dataSource.query('PRAGMA journal_mode');
      const migrations = await this.dataSource.query('SELECT count(*) AS n FROM migrations');
      const data = { journalMode: mode, migrations: migrations[0].n, file: this.dataSource.options.database };
      return mode === 'wal' ? indicator.up(data) : indicator.down({ ...data, reason: 'not in WAL mode' });
    } catch (err) {
      return indicator.down({ reason: (err as Error).message });
    }
  }
}
