// What a request whose write the store refused answers when the disk holding it is full (SQLite's own
// SQLITE_FULL on the writer's connection, test/support/disk-full.ts): the client must learn that the
// write was not made and why (POST /trace-sessions, DELETE /trace-sessions/:id on a full disk), not an
// 'internal error'. A real Nest app with the service's error filter, a route that writes through a real
// StoreWriter on a real migrated SQLite.
import { Controller, INestApplication, Post } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { ApiErrorFilter } from '../../../src/common/api-error';
import { diskFull } from '../../support/disk-full';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

describe('a write refused by a full disk, answered', () => {
  let m: (MigratedSqlite & { writer: StoreWriter }) | undefined;
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    if (m) await closeMigratedSqlite(m);
  });

  it('is 507 saying the disk is full, not a 500 internal error', async () => {
    const store = (m = await openMigratedSqlite('livetrace-api-full-'));
    const grow = diskFull(store).now.replace(/;$/, '');
    @Controller('w')
    class WriteController {
      @Post()
      write() {
        return store.writer.submit((tx) => tx.stmt(grow).run().changes);
      }
    }
    const mod = await Test.createTestingModule({ controllers: [WriteController], providers: [{ provide: APP_FILTER, useClass: ApiErrorFilter }] }).compile();
    app = mod.createNestApplication({ logger: false });
    await app.init();
    const r = await request(app.getHttpServer()).post('/w');
    expect(r.status).toBe(507);
    expect(r.body.message).toMatch(/disk.*full/);
    expect(r.body.message).toContain('SQLITE_FULL');
  });
});
