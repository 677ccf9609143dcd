import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import Database from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { openReadConnection } from './read-connection';
import { SqliteReader, SqlReader } from './sql';
import { StoreWriter } from './writer';

// Every table has one owner, a store class in a `*-store.ts` file of the feature that owns it, and
// SQL is written nowhere else: DatapathFlowStore (datapath_flow, recirc_edge), TraceStore with
// trace-read-store.ts and citation-store.ts (trace, trace_port, trace_citation, logical_port_alias,
// of_rule, logical_flow_snapshot, ovn_object), PathStore (path), UpcallStore (upcall), IngestStore
// (ingest_event), TraceSessionStore (trace_session), CrossCheckStore (cross_check), the audits'
// reads in LogicalFlowStore and SchemaStore (journal mode, migrations). Stores write inside writer
// jobs (the WriteContext they are handed, synchronous) and read through `db`; a read may join
// another owner's tables in one statement, a write never touches them.

/**
 * The process's one writer (on TypeORM's better-sqlite3 handle) and `db`, the connection reads
 * use. For a database file, `db` is a second, read-only connection: under WAL it reads the last
 * committed state, so the writer may keep a transaction open across event-loop turns (fewer,
 * bigger commits) without reads ever seeing half of one. For ':memory:' both are the one handle.
 */
@Injectable()
export class StoreService implements OnApplicationShutdown {
  readonly db: Database.Database;
  readonly writer: StoreWriter;
  /**
   * What the API's reads use: the history, wherever it is kept. SQLite: `db` itself. PostgreSQL
   * (LIVETRACE_DB=postgres://…): the central database, while `db` and `writer` are this
   * process's spool, shipped there (src/storage/shipper.ts).
   */
  query: SqlReader;
  private readonly reader?: Database.Database;

  constructor(dataSource: DataSource) {
    const handles = storeHandles((dataSource.driver as unknown as { databaseConnection: Database.Database }).databaseConnection);
    this.db = handles.db;
    this.writer = handles.writer;
    if (handles.db !== handles.writer.db) this.reader = handles.db;
    this.query = new SqliteReader(this.db);
  }

  async onApplicationShutdown(): Promise<void> {
    // Flush what was accepted before TypeORM closes the handle.
    await this.writer.close();
    this.reader?.close();
  }
}

/** The writer on `main` and the connection reads use (the same app and bench/api use). */
export function storeHandles(main: Database.Database): { db: Database.Database; writer: StoreWriter } {
  if (main.memory || !main.name) return { db: main, writer: new StoreWriter(main) };
  return { db: openReadConnection(main.name), writer: new StoreWriter(main, { spanTurns: true }) };
}
