// The one way into cross_check: each stored comparison with ovn-trace, its whole answer kept as
// JSON (`detail`). Writes run inside the caller's writer job; reads are the API's and go through
// `storage.query` (SQLite or PostgreSQL).
import { Inject, Injectable } from '@nestjs/common';
import { SqliteReader, type SqlReader } from '../storage/sql';
import { StoreService } from '../storage/store.service';
import type { WriteContext } from '../storage/writer';

export interface NewCrossCheck {
  createdAt: string;
  traceId: number;
  pathId: number | null;
  sessionId: number | null;
  result: string;
  /** The ovn-trace argument array, binary first. */
  argv: string[];
  /** The whole answer, as GET /cross-checks/:id gives it (without its id). */
  detail: object;
}

/** A stored cross-check: its id and its answer as stored. */
export interface StoredCrossCheck {
  id: number;
  detail: Record<string, unknown>;
}

@Injectable()
export class CrossCheckStore {
  private readonly local: SqlReader;

  /** `query` when given (StoreService: read at each call, it becomes PostgreSQL's once opened), else the read connection. */
  constructor(@Inject(StoreService) private readonly storage: Pick<StoreService, 'db'> & { readonly query?: SqlReader }) {
    this.local = new SqliteReader(storage.db);
  }

  private get q(): SqlReader {
    return this.storage.query ?? this.local;
  }

  insert(tx: WriteContext, c: NewCrossCheck): number {
    return Number(
      tx
        .stmt('INSERT INTO cross_check (created_at, trace_id, path_id, session_id, result, command, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(c.createdAt, c.traceId, c.pathId, c.sessionId, c.result, JSON.stringify(c.argv), JSON.stringify(c.detail)).lastInsertRowid,
    );
  }

  /** Its table, for the spool's retention (what PostgreSQL holds of it: spool-retention-store.ts). */
  readonly table = 'cross_check';

  /**
   * Retention (inside its writer job): the oldest cross-checks, up to `batch`, made before `before`
   * or with an id at or below `maxId` (each keeps up to 256 KB of ovn-trace output). Ids grow with
   * time: the walk stops at the first one kept. None above `upTo` (the spool's: what PostgreSQL does
   * not hold yet). Returns how many went.
   */
  pruneOldest(tx: WriteContext, o: { before: string | null; maxId: number | null; batch: number; upTo?: number }): number {
    const rows = tx.stmt('SELECT id, created_at FROM cross_check WHERE id <= ? ORDER BY id LIMIT ?').all(o.upTo ?? Number.MAX_SAFE_INTEGER, o.batch) as Array<{
      id: number;
      created_at: string;
    }>;
    const del = tx.stmt('DELETE FROM cross_check WHERE id = ?');
    let n = 0;
    for (const r of rows) {
      if (!((o.before !== null && r.created_at < o.before) || (o.maxId !== null && r.id <= o.maxId))) break;
      n += del.run(r.id).changes;
    }
    return n;
  }

  /** The id of the newest cross-check beyond the `keep` newest (null: no more than `keep`). */
  idBeyondNewest(tx: WriteContext, keep: number): number | null {
    return (tx.stmt('SELECT id FROM cross_check ORDER BY id DESC LIMIT 1 OFFSET ?').get(keep) as { id: number } | undefined)?.id ?? null;
  }

  async get(id: number): Promise<StoredCrossCheck | undefined> {
    const row = await this.q.get<{ id: number; detail: string }>('SELECT id, detail FROM cross_check WHERE id = ?', id);
    return row && { id: row.id, detail: JSON.parse(row.detail) as Record<string, unknown> };
  }

  /** The newest 100 of a trace, or of its path and of the trace when it has one, newest first. */
  async ofTrace(traceId: number, pathId: number | null): Promise<StoredCrossCheck[]> {
    const rows =
      pathId != null
        ? await this.q.all<{ id: number; detail: string }>('SELECT id, detail FROM cross_check WHERE path_id = ? OR trace_id = ? ORDER BY id DESC LIMIT 100', pathId, traceId)
        : await this.q.all<{ id: number; detail: string }>('SELECT id, detail FROM cross_check WHERE trace_id = ? ORDER BY id DESC LIMIT 100', traceId);
    return rows.map((r) => ({ id: r.id, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }
}
