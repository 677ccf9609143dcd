// /health's storage part while the disk holding the store is full: SQLite still answers reads (the
// journal mode, the migrations), so only the writer knows that every write fails. A real full disk on
// the writer's connection (SQLite's own SQLITE_FULL, test/support/disk-full.ts), the app's StoreService
// on a real migrated file, terminus's own HealthIndicatorService.
import { HealthIndicatorService } from '@nestjs/terminus';
import { StorageHealthIndicator } from '../../../src/health/storage.health';
import { SchemaStore } from '../../../src/storage/schema-store';
import { StoreService } from '../../../src/storage/store.service';
import { FAILING_MS, type StoreWriter } from '../../../src/storage/writer';
import { withClockOff } from '../../support/clock';
import { diskFull } from '../../support/disk-full';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

describe('/health storage on a full disk', () => {
  let m: MigratedSqlite | undefined;
  let store: StoreService | undefined;
  afterEach(async () => {
    await store?.onApplicationShutdown();
    if (m) await closeMigratedSqlite(m);
  });

  it('is down naming the full disk while writes fail, and up again once one commits', async () => {
    m = await openMigratedSqlite('livetrace-health-full-', { writer: false });
    store = new StoreService(m.ds, null);
    const health = new StorageHealthIndicator(new SchemaStore(m.ds), new HealthIndicatorService(), store);
    const full = diskFull({ db: store.writer.db, writer: store.writer } as unknown as MigratedSqlite & { writer: StoreWriter });
    expect((await health.check()).storage.status).toBe('up');

    const grow = full.now.replace(/;$/, '');
    await expect(store.writer.submit((tx) => tx.stmt(grow).run())).rejects.toMatchObject({ code: 'SQLITE_FULL' });
    const down = (await health.check()).storage as Record<string, unknown>;
    expect(down.status).toBe('down');
    expect(String(down.reason)).toMatch(/disk is full .*SQLITE_FULL/);

    // Room again: the next write that commits says so.
    await store.writer.submit((tx) => tx.stmt('DELETE FROM t_full_fill').run());
    expect((await health.check()).storage.status).toBe('up');
  });

  it('says nothing of a failure no write has met for FAILING_MS: a quiet process is not down for good once there is room', async () => {
    m = await openMigratedSqlite('livetrace-health-full-', { writer: false });
    store = new StoreService(m.ds, null);
    const health = new StorageHealthIndicator(new SchemaStore(m.ds), new HealthIndicatorService(), store);
    const full = diskFull({ db: store.writer.db, writer: store.writer } as unknown as MigratedSqlite & { writer: StoreWriter });
    const grow = full.now.replace(/;$/, '');
    await expect(store.writer.submit((tx) => tx.stmt(grow).run())).rejects.toMatchObject({ code: 'SQLITE_FULL' });
    expect((await withClockOff(FAILING_MS - 1000, () => health.check())).storage.status).toBe('down');
    expect((await withClockOff(FAILING_MS + 1000, () => health.check())).storage.status).toBe('up');
    // A write failing again then is a new spell: down, counted from it.
    await withClockOff(FAILING_MS + 1000, async () => {
      await expect(store!.writer.submit((tx) => tx.stmt(grow).run())).rejects.toMatchObject({ code: 'SQLITE_FULL' });
      const down = (await health.check()).storage as Record<string, unknown>;
      expect(down.status).toBe('down');
      expect(String(down.reason)).toMatch(/\(1 refused, the latest /);
    });
  });
});
