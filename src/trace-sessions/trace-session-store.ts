// The one way into trace_session. The service keeps the active sessions in memory (every new
// datapath flow is checked against them); this is what survives a restart and what the API lists.
// Writes run inside the caller's writer job; reads use the read connection.
import { Inject, Injectable } from '@nestjs/common';
import { StoreService } from '../storage/store.service';
import { Statements, WriteContext } from '../storage/writer';

export interface SessionStats {
  selected: number;
  traced: number;
  stored: number;
  /** Traced only to decide (a flow towards the port's addresses) and not about the port. */
  notSelected: number;
  dropped: number;
  failed: Record<string, number>;
}

export interface TraceSessionJson {
  id: number;
  chassis: string;
  createdAt: string;
  bridge: string;
  filter: string | null;
  logicalPort: string | null;
  maxTraces: number | null;
  durationSeconds: number | null;
  includeExisting: boolean;
  crossCheck: boolean;
  expiresAt: string | null;
  state: 'active' | 'completed' | 'expired' | 'stopped';
  endedAt: string | null;
  stats: SessionStats;
}

export const emptyStats = (): SessionStats => ({ selected: 0, traced: 0, stored: 0, notSelected: 0, dropped: 0, failed: {} });

@Injectable()
export class TraceSessionStore {
  private readonly statements: Statements;

  constructor(@Inject(StoreService) storage: Pick<StoreService, 'db'>) {
    this.statements = new Statements(storage.db);
  }

  /** The sessions still active (a restart reloads them). */
  active(): TraceSessionJson[] {
    return (this.statements.get(`SELECT * FROM trace_session WHERE state = 'active'`).all() as SessionRow[]).map(fromRow);
  }

  get(id: number): TraceSessionJson | undefined {
    const r = this.statements.get('SELECT * FROM trace_session WHERE id = ?').get(id) as SessionRow | undefined;
    return r && fromRow(r);
  }

  /** Newest first (limit + 1 rows: the extra one says a next page exists). */
  list(opts: { state?: string; cursor?: number; limit: number }): TraceSessionJson[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (opts.state) where.push('state = ?') && args.push(opts.state);
    if (opts.cursor) where.push('id < ?') && args.push(opts.cursor);
    const rows = this.statements
      .get(`SELECT * FROM trace_session ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`)
      .all(...args, opts.limit + 1) as SessionRow[];
    return rows.map(fromRow);
  }

  /** A new session; returns its id. */
  insert(tx: WriteContext, json: Omit<TraceSessionJson, 'id'>): number {
    return Number(
      tx
        .stmt(
          `INSERT INTO trace_session (chassis, created_at, bridge, filter, logical_port, max_traces, duration_seconds, include_existing,
             cross_check, expires_at, state, ended_at, stats) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(json.chassis, json.createdAt, json.bridge, json.filter, json.logicalPort, json.maxTraces, json.durationSeconds,
          json.includeExisting ? 1 : 0, json.crossCheck ? 1 : 0, json.expiresAt, json.state, null, JSON.stringify(json.stats)).lastInsertRowid,
    );
  }

  end(tx: WriteContext, id: number, state: TraceSessionJson['state'], endedAt: string | null, stats: SessionStats): void {
    tx.stmt('UPDATE trace_session SET state = ?, ended_at = ?, stats = ? WHERE id = ?').run(state, endedAt, JSON.stringify(stats), id);
  }

  saveStats(tx: WriteContext, id: number, stats: SessionStats): void {
    tx.stmt('UPDATE trace_session SET stats = ? WHERE id = ?').run(JSON.stringify(stats), id);
  }
}

interface SessionRow {
  id: number;
  chassis: string;
  created_at: string;
  bridge: string;
  filter: string | null;
  logical_port: string | null;
  max_traces: number | null;
  duration_seconds: number | null;
  include_existing: number;
  cross_check: number;
  expires_at: string | null;
  state: TraceSessionJson['state'];
  ended_at: string | null;
  stats: string;
}

function fromRow(r: SessionRow): TraceSessionJson {
  return {
    id: r.id,
    chassis: r.chassis,
    createdAt: r.created_at,
    bridge: r.bridge,
    filter: r.filter,
    logicalPort: r.logical_port,
    maxTraces: r.max_traces,
    durationSeconds: r.duration_seconds,
    includeExisting: r.include_existing === 1,
    crossCheck: r.cross_check === 1,
    expiresAt: r.expires_at,
    state: r.state,
    endedAt: r.ended_at,
    stats: { ...emptyStats(), ...(JSON.parse(r.stats) as Partial<SessionStats>) },
  };
}
