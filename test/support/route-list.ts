// Every GET route of the API over one stored history, and each answer rendered the one way two
// answers are compared (scripts/compare-routes: two trees on one SQLite file; test/postgres/
// same-answers.spec.ts: SQLite and PostgreSQL on one history). The targets (ids, UFIDs, UUIDs,
// times, chassis) are read from the history itself, so both sides are asked the same.
import Database from 'better-sqlite3';

/** Every GET, with targets read from the SQLite history `dbFile` (a store or a PostgreSQL agent's spool). */
export function requests(dbFile: string): string[] {
  const db = new Database(dbFile, { readonly: true });
  const all = <T>(sql: string) => db.prepare(sql).all() as T[];
  const col = (sql: string) => all<Record<string, unknown>>(sql).map((r) => String(Object.values(r)[0]));
  const has = (t: string) => !!db.prepare(`SELECT 1 FROM sqlite_master WHERE name = ?`).get(t);
  const urls: string[] = ['/health', '/metrics', '/docs-json', '/ingest/schema'];
  const traces = col('SELECT id FROM trace ORDER BY id');
  const pathIds = col('SELECT DISTINCT path_id FROM trace WHERE path_id IS NOT NULL ORDER BY 1');
  const ufids = col('SELECT DISTINCT ufid FROM datapath_flow ORDER BY 1');
  const upcalls = has('upcall') ? col('SELECT id FROM upcall ORDER BY id') : [];
  const sessions = col('SELECT id FROM trace_session ORDER BY id');
  const crossChecks = has('cross_check') ? col('SELECT id FROM cross_check ORDER BY id') : [];
  const lflows = col('SELECT DISTINCT uuid FROM logical_flow_snapshot ORDER BY 1');
  const nb = all<{ tbl: string; uuid: string }>(`SELECT DISTINCT tbl, uuid FROM ovn_object WHERE db = 'OVN_Northbound' ORDER BY tbl, uuid`);
  const pbs = col(`SELECT DISTINCT uuid FROM ovn_object WHERE db = 'OVN_Southbound' AND tbl = 'Port_Binding' ORDER BY 1`);
  const times = all<{ lo: string; mid: string; hi: string }>(
    `SELECT min(created_at) AS lo, (SELECT created_at FROM trace ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM trace)) AS mid, max(created_at) AS hi FROM trace`,
  )[0];
  const chassis = col('SELECT DISTINCT chassis FROM trace ORDER BY 1');
  db.close();

  for (const id of traces) urls.push(`/traces/${id}`, `/traces/${id}?format=text`, `/traces/${id}?format=json`, `/traces/${id}/cross-checks`);
  for (const id of pathIds) urls.push(`/paths/${id}`);
  for (const id of crossChecks) urls.push(`/cross-checks/${id}`);
  for (const u of ufids) urls.push(`/datapath-flows/${u}`);
  for (const id of upcalls) urls.push(`/upcalls/${id}`);
  for (const id of sessions) urls.push(`/trace-sessions/${id}`);
  for (const u of lflows) urls.push(`/logical-flows/${u}`, `/logical-flows/${u}/datapath-flows`, `/logical-flows/${u}/datapath-flows?limit=1`);
  for (const { tbl, uuid } of nb) urls.push(`/northbound/${tbl}/${uuid}/datapath-flows`);

  const ports = ['lsp1', 'lsp2', 'lsp3', 'lsp4', 'sw0-lr0', ...pbs.slice(0, 8)];
  const traceLists = ['', 'include=steps', 'limit=1', 'limit=500', 'limit=500&include=steps'];
  for (const p of ports) for (const role of ['', '&role=inport', '&role=outport', '&role=any']) traceLists.push(`logical_port=${p}${role}`);
  for (const v of ['output', 'drop', 'controller', 'tunnel', 'recirculate']) traceLists.push(`verdict=${v}`, `verdict=${v}&include=steps`);
  for (const u of ufids.slice(0, 12)) traceLists.push(`ufid=${u}`);
  for (const u of lflows.filter((_, i) => i % 7 === 0)) traceLists.push(`logical_flow=${u}`);
  for (const { uuid } of nb) traceLists.push(`northbound_uuid=${uuid}`);
  for (const d of ['sw0', 'lr0', 'ext', 'nosuch']) traceLists.push(`datapath=${d}`);
  for (const c of [...chassis, 'nosuch']) traceLists.push(`chassis=${c}`);
  for (const s of sessions) traceLists.push(`session=${s}`, `session=${s}&include=steps`);
  if (times?.mid) traceLists.push(`since=${times.mid}`, `until=${times.mid}`, `since=${times.lo}&until=${times.mid}`, `logical_port=lsp1&since=${times.mid}&verdict=output`);
  traceLists.push('verdict=drop&logical_port=lsp1&role=inport', 'datapath=sw0&verdict=output&limit=3');
  for (const q of traceLists) urls.push(`/traces${q ? '?' + q : ''}`);

  const flowLists = ['', 'state=live', 'state=removed', 'limit=1', 'limit=500', 'chassis=nosuch', ...chassis.map((c) => `chassis=${c}`)];
  for (const p of ports) flowLists.push(`logical_port=${p}`, `logical_port=${p}&state=live`);
  for (const q of flowLists) urls.push(`/datapath-flows${q ? '?' + q : ''}`);

  const upcallLists = ['', 'limit=1', 'limit=500', 'linked=true', 'linked=false', 'source=vlog', 'source=usdt', 'source=retis', 'source=nosuch'];
  for (const t of ['miss', 'action', 'exec', 'unspec']) upcallLists.push(`type=${t}`);
  for (const p of ['lsp1', 'lsp2', 'lsp3']) upcallLists.push(`logical_port=${p}`);
  for (const u of ufids.slice(0, 8)) upcallLists.push(`ufid=${u}`);
  for (const c of [...chassis, 'hv1', 'nosuch']) upcallLists.push(`chassis=${c}`);
  upcallLists.push('since=2026-11-27T05:21:59Z', 'until=2026-11-27T05:21:59Z');
  if (times?.mid) upcallLists.push(`since=${times.mid}`);
  for (const q of upcallLists) urls.push(`/upcalls${q ? '?' + q : ''}`);

  for (const q of ['', 'limit=1', 'state=active', 'state=completed', 'state=expired', 'state=stopped']) urls.push(`/trace-sessions${q ? '?' + q : ''}`);

  // Errors keep their shape too.
  urls.push(
    '/traces/999999', '/traces/0', '/traces/1?format=xml', '/traces/1?x=1', '/traces?limit=0', '/traces?role=inport', '/traces?logical_port=nosuch',
    '/traces?verdict=maybe', '/traces?since=yesterday', '/traces?cursor=bad', '/traces?ufid=abc', '/paths/999999', '/paths/abc',
    '/datapath-flows/00000000-0000-0000-0000-000000000000', '/datapath-flows/abc', '/datapath-flows?state=gone', '/upcalls/999999', '/upcalls?linked=maybe',
    '/trace-sessions/999999', '/cross-checks/999999', '/traces/999999/cross-checks', '/logical-flows/00000000-0000-0000-0000-000000000000',
    '/northbound/Nope/00000000-0000-0000-0000-000000000000/datapath-flows', '/northbound/ACL/00000000-0000-0000-0000-000000000000/datapath-flows', '/nosuch',
  );
  return urls;
}

/** Volatile parts of /health (times, pids, socket paths, the database file) replaced by their type. */
export function stableHealth(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => stableHealth(x, key));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stableHealth(x, k)]));
  if (/(^at$|At$|time|Time|pid|Ms$|ms$|uptime|file|path|socket|error|message|since|last|bytes|Bytes|size|age)/.test(key)) return `<${typeof v}>`;
  return v;
}

/** Metric names with their label names (values change with every scrape). */
export function metricNames(text: string): string {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) out.add(line);
    else if (line && !line.startsWith('#')) {
      const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?/.exec(line);
      if (m) out.add(`${m[1]} {${(m[3] ?? '').split(',').map((l) => l.split('=')[0]).filter(Boolean).join(',')}}`);
    }
  }
  return [...out].sort().join('\n') + '\n';
}

export interface RawAnswer {
  status: number;
  /** Content-Type without parameters. */
  type: string;
  text: string;
}

export interface Answer {
  url: string;
  /** `GET url`, the status and type, and the body (JSON re-indented; /health and /metrics stabilized). */
  shown: string;
}

/**
 * Asks every url once (and walks the pages of `limit=1` lists, up to 40), in order. `get` is one
 * GET however the caller reaches the service (supertest in process, fetch over TCP).
 */
export async function answers(urls: string[], get: (url: string) => Promise<RawAnswer>): Promise<Answer[]> {
  const out: Answer[] = [];
  const one = async (url: string): Promise<unknown> => {
    const r = await get(url);
    let shown = r.text;
    let parsed: unknown;
    if (r.type === 'application/json') {
      try {
        parsed = JSON.parse(r.text);
        shown = JSON.stringify(url === '/health' ? stableHealth(parsed) : parsed, null, 1);
      } catch {
        /* kept as text */
      }
    } else if (url === '/metrics') shown = metricNames(r.text);
    out.push({ url, shown: `GET ${url}\n${r.status} ${r.type}\n\n${shown}` });
    return parsed;
  };
  const seen = new Set<string>();
  for (const url of urls) {
    if (seen.has(url)) continue;
    seen.add(url);
    const first = await one(url);
    if (/[?&]limit=1(&|$)/.test(url)) {
      let next = (first as { next?: string | null })?.next ?? null;
      for (let i = 0; next && i < 40; i++) next = ((await one(`${url}&cursor=${next}`)) as { next?: string | null })?.next ?? null;
    }
  }
  return out;
}
