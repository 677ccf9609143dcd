import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { StoreWriter } from './writer';

/**
 * The raw better-sqlite3 handle under TypeORM's data source and the process's one writer.
 * Reads go straight to the handle with prepared statements: they are synchronous, so they can
 * never observe half of a write transaction.
 */
@Injectable()
export class StoreService implements OnApplicationShutdown {
  readonly db: Database;
  readonly writer: StoreWriter;

  constructor(dataSource: DataSource) {
    this.db = (dataSource.driver as unknown as { databaseConnection: Database }).databaseConnection;
    this.writer = new StoreWriter(this.db);
  }

  async onApplicationShutdown(): Promise<void> {
    // Flush what was accepted before TypeORM closes the handle.
    await this.writer.close();
  }
}
