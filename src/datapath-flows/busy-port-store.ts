// GET /datapath-flows?logical_port= on SQLite, for a port in many traces (a router or localnet port of
// a busy network). The list's statement (`id IN (the port's traces' flows)`) reads every trace of the
// port and sorts their flows: SQLite plans it once, for any port, and for a port in every trace of
// 150k it took 200–570 ms a page, growing with the history, where the newest flows, each checked for
// a trace on the port, answer in under a millisecond (bench/api/RESULTS-postgres.md, "stop 26:
// hot-port plans"). PostgreSQL plans that statement for each port instead (storage/sql.ts PLAN_EACH_CALL).
import type { SqlReader } from '../storage/sql';

/** Port rows (counted up to this, an index range) from which a port is looked for among the newest flows first. */
export const BUSY_PORT_ROWS = 1000;
/** The newest flows (after the list's other filters) that look checks before it gives up: ~5–10 ms at most. */
export const BUSY_WALK_FLOWS = 5000;

/**
 * The page of a busy port's flows, newest first, read from the newest `BUSY_WALK_FLOWS` flows that
 * pass `where` (the list's other filters, `args` theirs): exact when `want` of them have a trace on
 * the port, as every flow left out is older. Undefined when the port is not busy or that look found
 * fewer (a port busy in older history): the caller's statement answers then.
 */
export async function busyPortPage<T>(q: SqlReader, where: string[], args: unknown[], port: string, want: number): Promise<T[] | undefined> {
  const busy = await q.get<{ n: number }>('SELECT count(*) AS n FROM (SELECT 1 FROM trace_port WHERE port_name = ? LIMIT ?)', port, BUSY_PORT_ROWS);
  if ((busy?.n ?? 0) < BUSY_PORT_ROWS) return undefined;
  // CROSS JOIN keeps SQLite to a flow's traces first (idx_trace_dpflow), then the port's row of each.
  const rows = await q.all<T>(
    `SELECT * FROM (SELECT * FROM datapath_flow ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?) AS d
     WHERE EXISTS (SELECT 1 FROM trace t CROSS JOIN trace_port p WHERE t.datapath_flow_id = d.id AND p.trace_id = t.id AND p.port_name = ?)
     ORDER BY id DESC LIMIT ?`,
    ...args,
    BUSY_WALK_FLOWS,
    port,
    want,
  );
  return rows.length === want ? rows : undefined;
}
