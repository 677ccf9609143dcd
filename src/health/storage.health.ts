import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { SchemaStore } from '../storage/schema-store';

/** Storage is up when SQLite answers and is in WAL mode (the writer depends on it). */
@Injectable()
export class StorageHealthIndicator {
  constructor(
    private readonly schema: SchemaStore,
    private readonly health: HealthIndicatorService,
  ) {}

  async check(key = 'storage') {
    const indicator = this.health.check(key);
    try {
      const mode = await this.schema.journalMode();
      const data = { journalMode: mode, migrations: await this.schema.migrationCount(), file: this.schema.file };
      return mode === 'wal' ? indicator.up(data) : indicator.down({ ...data, reason: 'not in WAL mode' });
    } catch (err) {
      return indicator.down({ reason: (err as Error).message });
    }
  }
}
