// trace_citation: which traces cite a logical-flow snapshot (kind 0) or a northbound stage-hint
// object (kind 1). One row per (kind, ref, bucket of 32 consecutive trace ids) with a bitmap of
// the bucket's traces that cite it. Most citations are of a few dozen DP-group flows cited by
// nearly every trace: one row per 32 traces for them instead of one per trace (bench/api/RESULTS.md),
// and a writer transaction ORs its citations into the rows once, at its end.
import type { Database, Statement } from 'better-sqlite3';
import type { SqlReader } from '../storage/sql';
import type { WriteContext } from '../storage/writer';

export const CITES_LFLOW = 0;
export const CITES_HINT = 1;
export const BUCKET_SHIFT = 5;
const BUCKET_MASK = (1 << BUCKET_SHIFT) - 1;

const ROWS_PER_UPSERT = 64;
const upsertSql = (n: number) =>
  `INSERT INTO trace_citation (kind, ref, bucket, bits) VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?)').join(', ')} ON CONFLICT (kind, ref, bucket) DO UPDATE SET bits = bits | excluded.bits`;
const UPSERT_MANY = upsertSql(ROWS_PER_UPSERT);
const UPSERT_ONE = upsertSql(1);

/** Citations of one writer transaction, keyed "kind:ref:bucket" → bits. */
export class CitationBatch {
  private readonly bits = new Map<number, Map<number, number>>();

  add(kind: number, ref: number, traceId: number): void {
    // kind in the lowest bit of the map key: refs are ids far below 2^51.
    const k = ref * 2 + kind;
    let byBucket = this.bits.get(k);
    if (!byBucket) this.bits.set(k, (byBucket = new Map()));
    const bucket = Math.floor(traceId / (BUCKET_MASK + 1));
    byBucket.set(bucket, ((byBucket.get(bucket) ?? 0) | (1 << (traceId & BUCKET_MASK))) >>> 0);
  }

  /**
   * ORs every bucket into trace_citation (run inside the transaction, before COMMIT): in key order,
   * ROWS_PER_UPSERT rows a statement. A transaction of ~1,000 traces has ~6 rows a trace (a bucket's
   * 32 traces cite ~200 flows between them); one statement each was the writer's most run statement.
   */
  flush(tx: WriteContext): void {
    const rows: number[] = [];
    for (const k of [...this.bits.keys()].sort((a, b) => (a % 2) - (b % 2) || a - b)) {
      const byBucket = this.bits.get(k)!;
      for (const bucket of [...byBucket.keys()].sort((a, b) => a - b)) rows.push(k % 2, Math.floor(k / 2), bucket, byBucket.get(bucket)!);
    }
    this.bits.clear();
    const many = tx.stmt(UPSERT_MANY);
    const whole = rows.length - (rows.length % (4 * ROWS_PER_UPSERT));
    for (let i = 0; i < whole; i += 4 * ROWS_PER_UPSERT) many.run(rows.slice(i, i + 4 * ROWS_PER_UPSERT));
    const one = tx.stmt(UPSERT_ONE);
    for (let i = whole; i < rows.length; i += 4) one.run(rows[i], rows[i + 1], rows[i + 2], rows[i + 3]);
  }

  /** Clears the bits of pruned traces; rows left with no bit go. */
  static clear(tx: WriteContext, cites: Iterable<[kind: number, ref: number, traceId: number]>): void {
    const masks = new Map<string, number>();
    for (const [kind, ref, id] of cites) {
      const key = `${kind}:${ref}:${Math.floor(id / (BUCKET_MASK + 1))}`;
      masks.set(key, ((masks.get(key) ?? 0) | (1 << (id & BUCKET_MASK))) >>> 0);
    }
    const clear = tx.stmt('UPDATE trace_citation SET bits = bits & ~? WHERE kind = ? AND ref = ? AND bucket = ? RETURNING bits');
    const drop = tx.stmt('DELETE FROM trace_citation WHERE kind = ? AND ref = ? AND bucket = ?');
    for (const [key, mask] of masks) {
      const [kind, ref, bucket] = key.split(':').map(Number);
      const left = clear.get(mask, kind, ref, bucket) as { bits: number } | undefined;
      if (left && left.bits === 0) drop.run(kind, ref, bucket);
    }
  }
}

/**
 * SQL true when trace `idExpr` cites one of the refs given as one list parameter (`inList`: a
 * reader's `inList('int')`, SQLite's json_each by default): one probe of the key (kind, ref,
 * bucket) per ref. The shift count is cast to INTEGER and the bit compared with 1: PostgreSQL has
 * no `bigint >> bigint` and no integer truth values; SQLite gives the same answer either way.
 * On PostgreSQL (`dialect`) OFFSET 0 keeps it a probe per trace: its planner, blind to the bit
 * test's selectivity, made the walk a semi-join collecting every citing trace first (43 ms for a
 * page of a DP-group flow at 90k traces and growing; 1 ms as a probe; bench/api/RESULTS-postgres.md).
 */
export function citesSql(kind: number, idExpr: string, inList = 'SELECT value FROM json_each(?)', dialect: 'sqlite' | 'postgres' = 'sqlite'): string {
  return `EXISTS (SELECT 1 FROM trace_citation c WHERE c.kind = ${kind} AND c.ref IN (${inList})
    AND c.bucket = (${idExpr}) >> ${BUCKET_SHIFT} AND ((c.bits >> CAST((${idExpr}) & ${BUCKET_MASK} AS INTEGER)) & 1) = 1${dialect === 'postgres' ? ' OFFSET 0' : ''})`;
}

const popcount = (v: number): number => {
  let n = 0;
  for (let x = v >>> 0; x; x &= x - 1) n++;
  return n;
};

/**
 * The ids of the traces citing these refs, ascending, or 'many' when there are more than `max`
 * (the caller then checks trace by trace with citesSql while walking newest first).
 */
export function citedTraceIds(stmt: (sql: string) => Statement, kind: number, refs: number[], max: number): number[] | 'many' {
  if (!refs.length) return [];
  const rows = stmt(`SELECT bucket, bits FROM trace_citation WHERE kind = ${kind} AND ref IN (SELECT value FROM json_each(?))`).iterate(JSON.stringify(refs)) as IterableIterator<{
    bucket: number;
    bits: number;
  }>;
  const ids: number[] = [];
  let n = 0;
  for (const r of rows) {
    n += popcount(r.bits);
    if (n > max) {
      rows.return?.();
      return 'many';
    }
    const base = r.bucket * (BUCKET_MASK + 1);
    for (let bits = r.bits >>> 0; bits; bits &= bits - 1) ids.push(base + 31 - Math.clz32(bits & -bits));
  }
  // One ref: the key (kind, ref, bucket) gives them ascending and distinct already.
  if (refs.length === 1) return ids;
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** Bucket rows read per statement by tracesCiting: a DP-group flow's dense rows pass `max` in the first. */
const CHUNK = 1024;

/**
 * How long a reader remembers that refs had more than `max` citations. 'many' only picks the plan
 * (walk newest first and check each trace, rather than list the citing traces): both plans give
 * the same answer, so a remembered 'many' can cost time (retention pruned the refs below `max`
 * meanwhile), never change an answer. A DP-group flow's 'many' read ~1,000 bucket rows on every
 * request, every page of its audit (bench/api/RESULTS-postgres.md).
 */
const MANY_FOR_MS = 60_000;
const MANY_KEPT = 10_000;
const knownMany = new WeakMap<SqlReader, Map<string, number>>();

/**
 * citedTraceIds on the API's reader (SQLite or PostgreSQL): the same answer. An async reader has
 * no early `return` from an iterator, so each ref's rows are read in key order, a chunk at a time,
 * stopping as soon as more than `max` ids were seen. Rows as arrays: no object per bucket row.
 */
export async function tracesCiting(q: SqlReader, kind: number, refs: number[], max: number): Promise<number[] | 'many'> {
  if (!refs.length) return [];
  let many = knownMany.get(q);
  if (!many) knownMany.set(q, (many = new Map()));
  const key = `${kind}:${max}:${refs.join(',')}`;
  if ((many.get(key) ?? 0) > Date.now()) return 'many';
  const ids = await readCiting(q, kind, refs, max);
  if (ids === 'many') {
    if (many.size >= MANY_KEPT) many.clear();
    many.set(key, Date.now() + MANY_FOR_MS);
  }
  return ids;
}

async function readCiting(q: SqlReader, kind: number, refs: number[], max: number): Promise<number[] | 'many'> {
  const acc: Cited = { ids: [], n: 0 };
  for (const ref of refs) if (!(await readRef(q, kind, ref, -1, acc, max))) return 'many';
  return citedIds(acc, refs.length);
}

/** The trace ids a read of bucket rows has found so far, and how many bits it counted. */
interface Cited {
  ids: number[];
  n: number;
}

/** Adds a chunk of one ref's bucket rows to `acc`; false once more than `max` bits were counted. */
function take(acc: Cited, rows: Array<[bucket: number, bits: number]>, max: number): boolean {
  for (const [bucket, bits0] of rows) {
    acc.n += popcount(bits0);
    if (acc.n > max) return false;
    const base = bucket * (BUCKET_MASK + 1);
    for (let bits = bits0 >>> 0; bits; bits &= bits - 1) acc.ids.push(base + 31 - Math.clz32(bits & -bits));
  }
  return true;
}

const chunkSql = (kind: number) => `SELECT bucket, bits FROM trace_citation WHERE kind = ${kind} AND ref = ? AND bucket > ? ORDER BY bucket LIMIT ${CHUNK}`;

/** One ref's bucket rows above `after`, a chunk a statement, into `acc`; false once more than `max`. */
async function readRef(q: SqlReader, kind: number, ref: number, after: number, acc: Cited, max: number): Promise<boolean> {
  for (;;) {
    const rows = await q.rows<[bucket: number, bits: number]>(chunkSql(kind), ref, after);
    if (!take(acc, rows, max)) return false;
    if (rows.length < CHUNK) return true;
    after = rows[rows.length - 1][0];
  }
}

// One ref: the key (kind, ref, bucket) gives them ascending and distinct already.
const citedIds = (acc: Cited, refs: number): number[] => (refs === 1 ? acc.ids : [...new Set(acc.ids)].sort((a, b) => a - b));

/**
 * The refs `refsSql` selects (one column `id`: a logical flow's snapshots, a northbound row's
 * versions), ascending, and tracesCiting of them. On PostgreSQL in one statement, the refs with
 * the first CHUNK bucket rows of them all, in (ref, bucket) order, where reading the refs and then
 * their rows were two round trips of an audit's four (bench/api/RESULTS-postgres.md, stop 27); the
 * read goes on as readCiting does from where that chunk stopped. One chunk in all, not one a ref:
 * on PostgreSQL every chassis keeps its own snapshot of a logical flow (docs/multi-chassis.md,
 * the content-hash indexes are not unique), so a DP-group flow has a ref a chassis and a change,
 * each cited by ~every trace of its chassis, and a chunk a ref was 1,024 rows for each of them
 * where readCiting stopped after the first (test/postgres/audit-many-versions.spec.ts). The same
 * answer as the refs read alone and then tracesCiting: the bits counted are the same rows, in the
 * same order; 'many' is remembered for both keys. Once 'many' is remembered for these refs' query,
 * the refs are read alone (the citations are not read then: a DP-group flow's first chunk is
 * 1,024 rows).
 */
export async function refsAndTracesCiting(q: SqlReader, kind: number, refsSql: string, args: unknown[], max: number): Promise<{ refs: number[]; ids: number[] | 'many' }> {
  let many = knownMany.get(q);
  if (!many) knownMany.set(q, (many = new Map()));
  const key = `${kind}:${max}:${refsSql}:${JSON.stringify(args)}`;
  if (q.dialect === 'sqlite' || (many.get(key) ?? 0) > Date.now()) {
    const refs = (await q.rows<[id: number]>(`${refsSql} ORDER BY id`, ...args)).map((r) => r[0]);
    return { refs, ids: await tracesCiting(q, kind, refs, max) };
  }
  // The refs (a row each, bucket NULL), then the first CHUNK bucket rows of them all.
  const rows = await q.rows<[ref: number, bucket: number | null, bits: number | null]>(
    `SELECT s.id, NULL::bigint, NULL::bigint FROM (${refsSql}) s UNION ALL (SELECT s.id, c.bucket, c.bits FROM (${refsSql}) s
       CROSS JOIN LATERAL (SELECT bucket, bits FROM trace_citation WHERE kind = ${kind} AND ref = s.id ORDER BY bucket LIMIT ${CHUNK}) c
       ORDER BY s.id, c.bucket LIMIT ${CHUNK})`,
    ...args,
    ...args,
  );
  const refs = rows.filter((r) => r[1] === null).map((r) => r[0]).sort((a, b) => a - b);
  const cited = rows.filter((r) => r[1] !== null).sort((a, b) => a[0] - b[0] || a[1]! - b[1]!);
  const chunks = new Map<number, Array<[number, number]>>();
  for (const [ref, bucket, bits] of cited) chunks.get(ref)?.push([bucket!, bits!]) ?? chunks.set(ref, [[bucket!, bits!]]);
  // A full chunk may have stopped inside its last ref: that one goes on from its last bucket, the
  // refs after it from their first; the refs before it were read whole.
  const cut = cited.length === CHUNK ? cited[CHUNK - 1][0] : Infinity;
  const acc: Cited = { ids: [], n: 0 };
  let ok = true;
  for (const ref of refs) {
    const chunk = chunks.get(ref) ?? [];
    ok = take(acc, chunk, max) && (ref < cut || (await readRef(q, kind, ref, chunk.length ? chunk[chunk.length - 1][0] : -1, acc, max)));
    if (!ok) break;
  }
  if (ok) return { refs, ids: refs.length ? citedIds(acc, refs.length) : [] };
  const until = Date.now() + MANY_FOR_MS;
  if (many.size >= MANY_KEPT) many.clear();
  many.set(key, until).set(`${kind}:${max}:${refs.join(',')}`, until);
  return { refs, ids: 'many' };
}

/** Every (kind, ref) → trace ids as stored (for tests and checks). */
export function allCitations(db: Database): Array<[kind: number, ref: number, traceId: number]> {
  const out: Array<[number, number, number]> = [];
  for (const r of db.prepare('SELECT kind, ref, bucket, bits FROM trace_citation ORDER BY kind, ref, bucket').all() as Array<{ kind: number; ref: number; bucket: number; bits: number }>)
    for (let b = 0; b <= BUCKET_MASK; b++) if ((r.bits >>> b) & 1) out.push([r.kind, r.ref, r.bucket * (BUCKET_MASK + 1) + b]);
  return out;
}
