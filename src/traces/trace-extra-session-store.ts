// Which traces belong to a trace session: the one rule every reader asks (GET /traces?session=,
// the stream's session filter, the port stream's far passes). A pass several active sessions want is
// traced and stored once (collectors/tracer.service.ts): trace.session_id names the first, and
// trace_extra_session the others, a row only for a trace with several, so the write of a pass
// for no session or one is the trace row alone.
import type { SqlReader } from '../storage/sql';
import type { WriteContext } from '../storage/writer';

/**
 * "Trace `alias` belongs to this session", a WHERE term with its arguments. The extra sessions' traces
 * are one lookup of (session_id, trace_id), taken once for the statement (an uncorrelated IN), so a walk
 * along trace's (created_at, id, …, session_id) index stays that walk (EXPLAIN on both stores:
 * test/postgres/session-trace-plans.spec.ts).
 */
export function inSession(alias: string, sessionId: number): { sql: string; args: number[] } {
  return {
    sql: `(${alias}.session_id = ? OR ${alias}.id IN (SELECT trace_id FROM trace_extra_session WHERE session_id = ?))`,
    args: [sessionId, sessionId],
  };
}

/** Of these traces, those that belong to the session (the same rule as inSession). */
export async function ofSession(q: SqlReader, ids: readonly number[], sessionId: number): Promise<Set<number>> {
  if (!ids.length) return new Set();
  const term = inSession('t', sessionId);
  const rows = await q.all<{ id: number | string }>(`SELECT t.id FROM trace t WHERE t.id IN (${q.inList('int')}) AND ${term.sql}`, q.list(ids), ...term.args);
  return new Set(rows.map((r) => Number(r.id)));
}

/** The sessions beyond trace.session_id that wanted this pass, in the trace's own transaction. */
export function insertExtraSessions(tx: WriteContext, traceId: number, sessionIds: readonly number[]): void {
  if (!sessionIds.length) return;
  const stmt = tx.stmt('INSERT OR IGNORE INTO trace_extra_session (trace_id, session_id) VALUES (?, ?)');
  for (const s of sessionIds) stmt.run(traceId, s);
}

/** With its trace (retention): one range of the key. */
export function deleteExtraSessions(tx: WriteContext, traceId: number): void {
  tx.stmt('DELETE FROM trace_extra_session WHERE trace_id = ?').run(traceId);
}
