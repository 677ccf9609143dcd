import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationShutdown, OnModuleDestroy, Optional } from '@nestjs/common';
import Database from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { sqliteHandle } from './data-source.options';
import { openReadConnection } from './read-connection';
import { LIVETRACE_CONFIG } from '../config/config.module';
import type { LivetraceConfig } from '../config/config.schema';
import { Central, CENTRAL } from './central';
import { Shipper } from './shipper';
import { PgReader, SqliteReader, SqlReader } from './sql';
import { StoreWriter } from './writer';

// Every table has one owner, a store class in a `*-store.ts` file of the feature that owns it, and
// SQL is written nowhere else: DatapathFlowStore (datapath_flow, recirc_edge), TraceStore with
// trace-read-store.ts and citation-store.ts (trace, trace_port, trace_citation, logical_port_alias,
// of_rule, logical_flow_snapshot, ovn_object), PathStore (path; chassis_mark with
// paths/chassis-mark-store.ts), UpcallStore (upcall), IngestStore
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
export class StoreService implements OnModuleDestroy, BeforeApplicationShutdown, OnApplicationShutdown {
  readonly db: Database.Database;
  readonly writer: StoreWriter;
  /**
   * What the API's reads use: the history, wherever it is kept. SQLite: `db` itself. PostgreSQL
   * (LIVETRACE_DB=postgres://…): the central database, while `db` and `writer` are this
   * process's spool, shipped there (src/storage/shipper.ts).
   */
  readonly query: SqlReader;
  /** With PostgreSQL: what copies the spool there, and what /health and the metrics show of it. */
  readonly shipper?: Shipper;
  private readonly reader?: Database.Database;
  private shipperReader?: Database.Database;
  /** Aborted when the process stops: PostgreSQL reads in flight are given up (PgReader), and the central retention's round. */
  private readonly stopping = new AbortController();
  private spoolClosed?: Promise<void>;

  constructor(
    dataSource: DataSource,
    @Optional() @Inject(CENTRAL) readonly central?: Central | null,
    @Optional() @Inject(LIVETRACE_CONFIG) cfg?: LivetraceConfig,
  ) {
    const handles = storeHandles(sqliteHandle(dataSource));
    this.db = handles.db;
    this.writer = handles.writer;
    if (handles.db !== handles.writer.db) this.reader = handles.db;
    // TypeORM's module destroys this DataSource, whose handle the writer uses, in its own
    // onApplicationShutdown: after the collectors' (their last writes at close) but before this
    // service's (both modules global: Nest runs the hooks of the one scanned later first). The
    // spool's last writes are shipped and the writer closed first (closeSpool), else the stop's
    // last flush found the spool closed (test/postgres/shutdown-flush.spec.ts).
    const destroy = dataSource.destroy.bind(dataSource);
    dataSource.destroy = async () => {
      try {
        await this.closeSpool();
      } finally {
        await destroy();
      }
    };
    if (!central) {
      this.query = new SqliteReader(this.db);
      return;
    }
    this.query = new PgReader(central.pool, undefined, this.stopping.signal);
    // Its own read connection: the shipper's reads of big batches must not wait behind the API's.
    const file = handles.writer.db.name;
    this.shipperReader = handles.writer.db.memory || !file ? undefined : openReadConnection(file);
    this.shipper = new Shipper(this.shipperReader ?? handles.writer.db, handles.writer, central.pool, central.tables, {
      batch: cfg?.LIVETRACE_SHIP_BATCH ?? 5000,
      batchBytes: cfg?.LIVETRACE_SHIP_BATCH_BYTES ?? 32 * 1024 ** 2,
      maxBacklog: cfg?.LIVETRACE_SPOOL_MAX_CHANGES ?? 2_000_000,
      idleMs: 100,
      ready: central.ready,
    }, central.slot);
    this.shipper.start();
  }

  /**
   * Aborted first thing at a stop: what waits on PostgreSQL under it (pg-client.ts withClient) is
   * given up at once, its connection destroyed (ESHUTDOWN).
   */
  get stopSignal(): AbortSignal {
    return this.stopping.signal;
  }

  /**
   * First thing at a stop (Nest's destroy hooks run before any shutdown hook): the reads that wait on
   * PostgreSQL (a session poll, a request) are given up, so no shutdown hook that awaits one of them
   * waits for a partitioned PostgreSQL's SILENT_MS; the shipper stops, shipping what the spool holds
   * within its STOP_FLUSH_MS (ship-stop.ts): what it could not ship is shipped at the next start.
   */
  onModuleDestroy(): void {
    this.stopping.abort();
    void this.shipper?.stop();
  }

  /** Before any module's shutdown (TypeORM closes the spool in its own): the shipper stopped, the writes made since its stop shipped too (within the same deadline). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.writer.idle();
    await this.shipper?.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    // Done already when TypeORM's shutdown destroyed the DataSource (the app's case).
    await this.closeSpool();
    this.reader?.close();
    this.shipperReader?.close();
    await this.central?.close().catch(() => undefined);
  }

  /**
   * Once, before the spool's handle closes: what was accepted is committed, shipped by the stop's
   * last flush (within its STOP_FLUSH_MS, ship-stop.ts), and the writer closed.
   */
  private closeSpool(): Promise<void> {
    return (this.spoolClosed ??= (async () => {
      await this.writer.idle();
      await this.shipper?.stop();
      await this.writer.close();
    })());
  }
}

/** The writer on `main` and the connection reads use (the same app and bench/api use). */
export function storeHandles(main: Database.Database): { db: Database.Database; writer: StoreWriter } {
  if (main.memory || !main.name) return { db: main, writer: new StoreWriter(main) };
  return { db: openReadConnection(main.name), writer: new StoreWriter(main, { spanTurns: true }) };
}
