// The app as the API bench runs it: on a generated history, with no OVN, OVS or poller behind it
// and retention off, so every request measures the store and the HTTP layer alone; and what its
// requests ask for, picked from that history (run.ts, profile.ts and service-time.ts share both).
import type Database from 'better-sqlite3';
import { loadConfig } from '../../src/config/config';
import type { LivetraceConfig } from '../../src/config/config.schema';
import { dbFile, TENANTS } from './generate';
import { rng } from './world';

/** The environment of an app over a stored history only: no daemon to reach, no poller, no retention. */
export const OFFLINE_ENV: Readonly<Record<string, string>> = {
  LIVETRACE_POLLER: 'false',
  OVN_NB_DB: 'unix:/nonexistent/nb.sock',
  OVN_SB_DB: 'unix:/nonexistent/sb.sock',
  OVS_DB: 'unix:/nonexistent/db.sock',
  LIVETRACE_VSWITCHD_CTL: '/nonexistent/ovs-vswitchd.ctl',
  LIVETRACE_LOG_LEVEL: 'error',
  LIVETRACE_RETENTION_DAYS: '0',
  LIVETRACE_RETENTION_ROWS: '0',
};

/** An app over a stored history only (OFFLINE_ENV), in this process. */
export function offlineAppConfig(env: Record<string, string>): LivetraceConfig {
  return loadConfig({ ...OFFLINE_ENV, ...env });
}

export function historyAppConfig(n: number): LivetraceConfig {
  return offlineAppConfig({ LIVETRACE_DB: dbFile(n), LIVETRACE_CHASSIS: 'hv1' });
}

/** Targets taken from the database itself, at random. */
export function targets(db: Database.Database) {
  const r = rng(42);
  const { lo, hi } = db.prepare('SELECT min(id) AS lo, max(id) AS hi FROM trace').get() as { lo: number; hi: number };
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const ports = Array.from({ length: 300 }, () => `t${Math.floor(r() * TENANTS)}-lsp${1 + Math.floor(r() * 4)}`);
  const traceIds = Array.from({ length: 2000 }, () => lo + Math.floor(r() * (hi - lo)));
  const pathIds = (db.prepare('SELECT path_id FROM trace WHERE id IN (' + traceIds.slice(0, 500).join(',') + ') AND path_id IS NOT NULL').all() as Array<{ path_id: number }>).map((x) => x.path_id);
  // Citations in the newest 20k traces tell popular from rare flows (bits of the citation bitmaps).
  db.function('popcount', { deterministic: true }, (v: unknown) => {
    let n = 0;
    for (let x = Number(v) >>> 0; x; x &= x - 1) n++;
    return n;
  });
  const cited = db
    .prepare(
      `SELECT l.uuid, sum(popcount(c.bits)) AS n FROM trace_citation c JOIN logical_flow_snapshot l ON l.id = c.ref
        WHERE c.kind = 0 AND c.bucket > ? GROUP BY l.uuid ORDER BY n DESC`,
    )
    .all((hi - 20_000) >> 5) as Array<{ uuid: string; n: number }>;
  const dpGroup = cited.slice(0, 20).map((c) => c.uuid);
  const portFlows = cited.filter((c) => c.n >= 3 && c.n <= 40).map((c) => c.uuid);
  const acls = (db.prepare(`SELECT DISTINCT uuid FROM ovn_object WHERE db = 'OVN_Northbound' AND tbl = 'ACL'`).all() as Array<{ uuid: string }>).map((x) => x.uuid);
  return {
    lo,
    hi,
    ports,
    traceIds,
    pathIds,
    dpGroup,
    portFlows: Array.from({ length: 300 }, () => pick(portFlows)),
    acls,
    citedCounts: { top: cited.slice(0, 3), portFlowsDistinct: portFlows.length, acls: acls.length },
  };
}
