import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { SchemaStore } from '../storage/schema-store';
import { StoreService } from '../storage/store.service';

/**
 * Storage is up when SQLite answers, is in WAL mode (the writer depends on it) and its writes commit:
 * on a full disk reads still answer while nothing new is stored.
 */
@Injectable()
export class StorageHealthIndicator {
  constructor(
    private readonly schema: SchemaStore,
    private readonly health: HealthIndicatorService,
    @Inject(StoreService) private readonly store: Pick<StoreService, 'writer'>,
  ) {}

  async check(key = 'storage') {
    const indicator = this.health.check(key);
    try {
      const mode = await this.schema.journalMode();
      const data = { journalMode: mode, migrations: await this.schema.migrationCount(), file: this.schema.file };
      if (mode !== 'wal') return indicator.down({ ...data, reason: 'not in WAL mode' });
      const f = this.store.writer.failingNow();
      if (f)
        return indicator.down({
          ...data,
          reason: `writes fail since ${f.since} (${f.jobs} refused, the latest ${new Date(f.lastAt).toISOString()}): ${f.message} (${f.code})${/^SQLITE_FULL/.test(f.code) ? ': free space on the disk that holds the store' : ''}`,
        });
      return indicator.up(data);
    } catch (err) {
      return indicator.down({ reason: (err as Error).message });
    }
  }
}
