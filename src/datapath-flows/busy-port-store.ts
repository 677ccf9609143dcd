// GET /datapath-flows?logical_port= on SQLite, for a port in many traces (a router or localnet port of
// a busy network). The list's statement (`id IN (the port's traces' flows)`) reads every trace of the
// port and sorts their flows: SQLite plans it once, for any port, and for a port in every trace of
// 150k it took 200–570 ms a page, growing with the history, where the newest flows, each checked for
// a trace on the port, answer in under a millisecond (bench/api/RESULTS-postgres.md, "stop 26:
// hot-port plans"). PostgreSQL plans that statement for each port instead (storage/sql.ts PLAN_EACH_CALL).
import type { SqlReader } from '../storage/sql';

/** Port rows (counted up to this, an index range) from which a port is looked for among the newest flows first. */
export const BUSY_PORT_ROWS = 1000;
/** The newest flows (after the list's other filters) that look checks before it gives up. */
export const BUSY_WALK_FLOWS = 5000;
/**
 * The traces of those flows, newest flow first, it checks for the port before it gives up: what the
 * look costs (a flow of 30 passes is 30 traces), ~6-15 ms at most. Bounded by flows alone, a port
 * busy only long ago behind 5,000 flows of 30 traces each cost 80-130 ms before the statement's own
 * 0.7 ms (test/integration/storage/flows-of-busy-port.spec.ts, 'flows traced on many passes').
 */
export const BUSY_WALK_TRACES = 20000;

/**
 * The page of a busy port's flows, newest first, read from the first `BUSY_WALK_TRACES` traces of
 * the newest `BUSY_WALK_FLOWS` flows that pass `where` (the list's other filters, `args` theirs):
 * exact when `want` of them have a trace on the port, as every flow left out is older (the one whose
 * traces the bound cut is older than every flow found). Undefined when the port is not busy or that look found
 * fewer (a port busy in older history): the caller's statement answers then.
 */
export async function busyPortPage<T>(q: SqlReader, where: string[], args: unknown[], port: string, want: number): Promise<T[] | undefined> {
  const busy = await q.get<{ n: number }>('SELECT count(*) AS n FROM (SELECT 1 FROM trace_port WHERE port_name = ? LIMIT ?)', port, BUSY_PORT_ROWS);
  if ((busy?.n ?? 0) < BUSY_PORT_ROWS) return undefined;
  const filtered = `SELECT id FROM datapath_flow ${where.length ? 'WHERE ' + where.join(' AND ') : ''}`;
  // The newest flows' traces, flow by flow (newest flow first: its rowid walk gives that order, so
  // no sort), at most BUSY_WALK_TRACES of them among the newest BUSY_WALK_FLOWS flows; the flows of
  // those with a row of the port, in that order, until `want`. Bounded by traces, not flows: the
  // newest flows are often long-lived ones traced on many passes. CROSS JOIN keeps SQLite to each
  // flow's traces (idx_trace_dpflow), then the port's row of each (trace_port's key).
  const rows = await q.all<T>(
    `SELECT d.* FROM (
       SELECT DISTINCT w.fid FROM (
         SELECT f.id AS fid, t.id AS tid FROM (${filtered}) AS f CROSS JOIN trace t
         WHERE t.datapath_flow_id = f.id AND f.id >= (SELECT coalesce(min(id), 0) FROM (${filtered} ORDER BY id DESC LIMIT ?))
         ORDER BY f.id DESC LIMIT ?
       ) AS w
       WHERE EXISTS (SELECT 1 FROM trace_port p WHERE p.trace_id = w.tid AND p.port_name = ?)
       LIMIT ?
     ) AS k CROSS JOIN datapath_flow d WHERE d.id = k.fid ORDER BY d.id DESC`,
    ...args,
    ...args,
    BUSY_WALK_FLOWS,
    BUSY_WALK_TRACES,
    port,
    want,
  );
  return rows.length === want ? rows : undefined;
}
