// The rows `GET /traces/stream`'s far-pass look reads (PortArrivals.sinceIn, port-arrivals.ts):
// tunnel arrivals in one writer slot's id range, and the trace times of arrivals retried. SQL lives
// in store files (test/unit/structure/sql-owners.spec.ts); the look itself stays in PortArrivals.
import type { SqlReader } from '../storage/sql';
import type { TraceListQuery } from '../traces/trace-read-store';
import { inSession } from '../traces/trace-extra-session-store';

export interface ArrivalRow {
  id: number;
  created_at: string;
}

/** Tunnel arrivals (a `tunnel_in` port row) with after < id < below whose ingress is not the port, with the stream's other filters, oldest first. */
export function tunnelArrivals(db: SqlReader, q: TraceListQuery, after: number, below: number, limit: number): Promise<ArrivalRow[]> {
  const where = ['p.trace_id > ?', 'p.trace_id < ?', "p.role = 'tunnel_in'", 'p.port_name <> ?'];
  const args: unknown[] = [after, below, q.portName];
  if (q.chassis) where.push('t.chassis = ?') && args.push(q.chassis);
  if (q.verdict) where.push('t.verdict_kinds LIKE ?') && args.push(`%,${q.verdict},%`);
  if (q.sessionId) {
    const s = inSession('t', q.sessionId);
    where.push(s.sql) && args.push(...s.args);
  }
  // The primary key (trace_id, port_name, role, scope) walks only the rows of the range.
  return db.all<ArrivalRow>(
    `SELECT DISTINCT p.trace_id AS id, t.created_at FROM trace_port p JOIN trace t ON t.id = p.trace_id WHERE ${where.join(' AND ')} ORDER BY p.trace_id LIMIT ?`,
    ...args,
    limit,
  );
}

/** The trace times of these traces (those still stored). */
export function traceTimes(db: SqlReader, ids: readonly number[]): Promise<ArrivalRow[]> {
  return db.all<ArrivalRow>(`SELECT id, created_at FROM trace WHERE id IN (${db.inList('int')})`, db.list(ids));
}
