// The one way into cross_check: each stored comparison with ovn-trace, its whole answer kept as
// JSON (`detail`). Writes run inside the caller's writer job; reads use the read connection.
import { Inject, Injectable } from '@nestjs/common';
import { StoreService } from '../storage/store.service';
import { Statements, WriteContext } from '../storage/writer';

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
  private readonly statements: Statements;

  constructor(@Inject(StoreService) storage: Pick<StoreService, 'db'>) {
    this.statements = new Statements(storage.db);
  }

  insert(tx: WriteContext, c: NewCrossCheck): number {
    return Number(
      tx
        .stmt('INSERT INTO cross_check (created_at, trace_id, path_id, session_id, result, command, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(c.createdAt, c.traceId, c.pathId, c.sessionId, c.result, JSON.stringify(c.argv), JSON.stringify(c.detail)).lastInsertRowid,
    );
  }

  get(id: number): StoredCrossCheck | undefined {
    const row = this.statements.get('SELECT id, detail FROM cross_check WHERE id = ?').get(id) as { id: number; detail: string } | undefined;
    return row && { id: row.id, detail: JSON.parse(row.detail) as Record<string, unknown> };
  }

  /** The newest 100 of a trace, or of its path and of the trace when it has one, newest first. */
  ofTrace(traceId: number, pathId: number | null): StoredCrossCheck[] {
    const rows = (
      pathId != null
        ? this.statements.get('SELECT id, detail FROM cross_check WHERE path_id = ? OR trace_id = ? ORDER BY id DESC LIMIT 100').all(pathId, traceId)
        : this.statements.get('SELECT id, detail FROM cross_check WHERE trace_id = ? ORDER BY id DESC LIMIT 100').all(traceId)
    ) as Array<{ id: number; detail: string }>;
    return rows.map((r) => ({ id: r.id, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }
}
