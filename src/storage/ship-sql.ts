// The PostgreSQL side of the shipper (shipper.ts): rows travel column-wise, one array a column
// through unnest(), in one named statement a table. A multi-row VALUES list was a new statement of
// up to 65k parameters for PostgreSQL to parse and plan every batch, and pg's per-parameter
// serialisation a fifth of the shipper's CPU (bench/api/RESULTS-postgres.md). A claimed range's rows,
// new to PostgreSQL, go by binary COPY instead (binaryCopy, copyIn, copyFresh).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { quoteIdent, type ShippedTable } from './spool';

const q = quoteIdent;

/**
 * Rows an upsert may change: a session's state and counters are decided by whoever ends it first
 * (an agent that saw it expire, an api asked to stop it); an ended session is never reopened.
 */
const UPSERT_GUARD: Record<string, string> = {
  trace_session: `WHERE trace_session.state = 'active'`,
};

/**
 * Columns an upsert merges instead of overwriting. A citation bucket's bits are ORed, as in the
 * spool (citation-store.ts): once a spool has pruned traces of a bucket locally
 * (retention/spool-retention-store.ts: their rows stay in PostgreSQL), the spool's row holds only
 * the bits it still has, and a bucket shipped again from it would otherwise drop the bits only
 * PostgreSQL holds.
 * A bit cleared in the spool therefore never clears PostgreSQL's: a bucket emptied in the spool
 * is deleted (a DELETE ships), and PostgreSQL's own retention clears the bits of what it prunes.
 */
export const UPSERT_MERGE: Record<string, Record<string, string>> = {
  trace_citation: { bits: 'trace_citation.bits | EXCLUDED.bits' },
};

/** The keys among `keys` that have no row in `rows` (columns in table order): deleted in the spool. */
export function absent(t: ShippedTable, keys: unknown[][], rows: unknown[][]): unknown[][] {
  if (!keys.length) return [];
  const at = t.key.map((k) => t.columns.indexOf(k));
  const present = new Set(rows.map((r) => JSON.stringify(at.map((i) => r[i]))));
  return keys.filter((k) => !present.has(JSON.stringify(k)));
}

/** PostgreSQL's type of each of the table's columns (in the spool's column order). */
export async function columnTypes(client: PoolClient, t: ShippedTable): Promise<string[]> {
  const { rows } = await client.query(
    `SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
    [q(t.name)],
  );
  const types = new Map((rows as Array<{ attname: string; type: string }>).map((r) => [r.attname, r.type]));
  return t.columns.map((c) => {
    const type = types.get(c);
    if (!type) throw new Error(`PostgreSQL's table ${t.name} has no column ${c} (the spool has): are both migrated to the same version?`);
    return type;
  });
}

/**
 * PostgreSQL's text cannot hold U+0000, which SQLite's can (an ingested event's id or packet text,
 * a log line): sent as it is, the batch fails ("invalid byte sequence for encoding UTF8: 0x00") at
 * every retry, and nothing written after it ever ships. It goes as U+FFFD, the replacement character.
 */
export const pgText = (s: string): string => (s.includes('\0') ? s.replace(/\0/g, '\uFFFD') : s);

/**
 * One column of `rows` as a PostgreSQL array literal (what pg's arrayString makes of a JS array,
 * without its per-element prepareValue and two regex passes: numbers unquoted, a string escaped
 * only when it holds a quote or a backslash).
 */
export function arrayLiteral(rows: unknown[][], col: number): string {
  const out: string[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const v = rows[r][col];
    if (v === null || v === undefined) out[r] = 'NULL';
    else if (typeof v === 'number' || typeof v === 'bigint') out[r] = String(v);
    else if (Buffer.isBuffer(v)) out[r] = `\\\\x${v.toString('hex')}`;
    else {
      const str = pgText(String(v));
      out[r] = `"${/[\\"]/.test(str) ? str.replace(/[\\"]/g, '\\$&') : str}"`;
    }
  }
  return `{${out.join(',')}}`;
}

/** Column-wise: one array literal a column (rows are arrays in the table's column order). */
function columnsOf(rows: unknown[][], width: number): string[] {
  return Array.from({ length: width }, (_, c) => arrayLiteral(rows, c));
}

const ROWS_PER_STATEMENT = 20_000;

export async function upsert(client: PoolClient, t: ShippedTable, types: string[], rows: unknown[][]): Promise<number> {
  if (!rows.length) return 0;
  const cols = t.columns;
  const nonKey = cols.filter((c) => !t.key.includes(c));
  const conflict = nonKey.length
    ? `DO UPDATE SET ${nonKey.map((c) => `${q(c)} = ${UPSERT_MERGE[t.name]?.[c] ?? `EXCLUDED.${q(c)}`}`).join(', ')} ${UPSERT_GUARD[t.name] ?? ''}`
    : 'DO NOTHING';
  const text = `INSERT INTO ${q(t.name)} (${cols.map(q).join(', ')}) SELECT * FROM unnest(${types.map((ty, i) => `$${i + 1}::${ty}[]`).join(', ')}) ON CONFLICT (${t.key.map(q).join(', ')}) ${conflict}`;
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT)
    await client.query({ name: `livetrace_ship_up_${t.name}`, text, values: columnsOf(rows.slice(i, i + ROWS_PER_STATEMENT), cols.length) });
  return rows.length;
}

export async function remove(client: PoolClient, t: ShippedTable, types: string[], keys: unknown[][]): Promise<void> {
  const keyTypes = t.key.map((k) => types[t.columns.indexOf(k)]);
  const text = `DELETE FROM ${q(t.name)} WHERE (${t.key.map(q).join(', ')}) IN (SELECT * FROM unnest(${keyTypes.map((ty, i) => `$${i + 1}::${ty}[]`).join(', ')}))`;
  for (let i = 0; i < keys.length; i += ROWS_PER_STATEMENT)
    await client.query({ name: `livetrace_ship_del_${t.name}`, text, values: columnsOf(keys.slice(i, i + ROWS_PER_STATEMENT), t.key.length) });
}

/** PostgreSQL column types a binary COPY of ours can carry (every shipped table's, today). */
const BINARY_KINDS: Record<string, 'int8' | 'int4' | 'text' | 'bytea'> = { bigint: 'int8', integer: 'int4', text: 'text', bytea: 'bytea' };
type BinaryKind = (typeof BINARY_KINDS)[string];

/** A value the column's binary form cannot hold as the upsert would take it: the caller upserts instead. */
class NotBinary extends Error {}

const CHUNK = 1 << 20;
const HEADER = Buffer.from('PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0', 'latin1');

/**
 * Rows (arrays in column order) in COPY's binary format, as ~1 MB buffers. Binary, because the text
 * forms cost both sides a parse: an array literal's, or COPY text's escapes, digits and a bytea's hex
 * (a trace's packed steps), which PostgreSQL then decodes again.
 */
export function binaryCopy(rows: unknown[][], kinds: BinaryKind[]): Buffer[] {
  const out: Buffer[] = [];
  let buf = Buffer.allocUnsafe(CHUNK);
  let pos = HEADER.copy(buf, 0);
  const room = (n: number) => {
    if (pos + n <= buf.length) return;
    out.push(buf.subarray(0, pos));
    buf = Buffer.allocUnsafe(Math.max(CHUNK, n));
    pos = 0;
  };
  for (const row of rows) {
    room(2);
    buf.writeInt16BE(kinds.length, pos);
    pos += 2;
    for (let c = 0; c < kinds.length; c++) {
      const v = row[c];
      if (v === null || v === undefined) {
        room(4);
        pos = buf.writeInt32BE(-1, pos);
        continue;
      }
      switch (kinds[c]) {
        case 'int8':
          room(12);
          pos = buf.writeInt32BE(8, pos);
          if (typeof v === 'bigint') pos = buf.writeBigInt64BE(v, pos);
          else if (Number.isSafeInteger(v)) {
            const hi = Math.floor((v as number) / 2 ** 32);
            pos = buf.writeInt32BE(hi, pos);
            pos = buf.writeUInt32BE((v as number) - hi * 2 ** 32, pos);
          } else throw new NotBinary();
          break;
        case 'int4':
          if (!Number.isInteger(v) || (v as number) < -(2 ** 31) || (v as number) >= 2 ** 31) throw new NotBinary();
          room(8);
          pos = buf.writeInt32BE(4, pos);
          pos = buf.writeInt32BE(v as number, pos);
          break;
        case 'text': {
          // A number in a text column goes as its decimal form, as in an array literal.
          if (typeof v !== 'string' && typeof v !== 'number') throw new NotBinary();
          const str = pgText(String(v));
          room(4 + 3 * str.length);
          const n = buf.write(str, pos + 4, 'utf8');
          buf.writeInt32BE(n, pos);
          pos += 4 + n;
          break;
        }
        case 'bytea':
          if (!Buffer.isBuffer(v)) throw new NotBinary();
          room(4 + v.length);
          pos = buf.writeInt32BE(v.length, pos);
          pos += v.copy(buf, pos);
          break;
      }
    }
  }
  room(2);
  pos = buf.writeInt16BE(-1, pos);
  out.push(buf.subarray(0, pos));
  return out;
}

/** The table's rows as binary COPY, or null when a column type or a value does not fit it. */
export function copyData(t: ShippedTable, types: string[], rows: unknown[][]): { text: string; data: Buffer[] } | null {
  const kinds = types.map((ty) => BINARY_KINDS[ty]);
  if (kinds.some((k) => !k)) return null;
  try {
    return { text: `COPY ${q(t.name)} (${t.columns.map(q).join(', ')}) FROM STDIN (FORMAT binary)`, data: binaryCopy(rows, kinds) };
  } catch (err) {
    if (err instanceof NotBinary) return null;
    throw err;
  }
}

/** Sends one COPY … FROM STDIN; rejects with PostgreSQL's error (a key already there: 23505). */
export async function copyIn(client: PoolClient, copy: { text: string; data: Buffer[] }): Promise<void> {
  await pipeline(Readable.from(copy.data), client.query(copyFrom(copy.text)));
}

/**
 * The ranges' rows by binary COPY, inside the batch's transaction: they are new to PostgreSQL (a
 * range is above the shipped mark, and a row changed after its claim is logged and upserted), so
 * a plain insert is what an upsert would do, at about half of PostgreSQL's CPU a row (no
 * speculative insertion, heap rows written many at a time) and no array literals to build. Sent
 * again (PostgreSQL committed, the mark had not moved: a crash, a lost answer), a key is already
 * there: the COPY fails (23505), everything since the savepoint is undone, and the rows are
 * upserted as before, so a re-send still writes the same rows. One savepoint a batch.
 */
export async function copyFresh(client: PoolClient, work: Array<{ t: ShippedTable; fresh: unknown[][] }>, types: (t: ShippedTable) => string[]): Promise<number> {
  const copies = work.filter((w) => w.fresh.length).map((w) => ({ w, copy: copyData(w.t, types(w.t), w.fresh) }));
  if (!copies.length) return 0;
  await client.query('SAVEPOINT livetrace_fresh');
  try {
    for (const c of copies) if (c.copy) await copyIn(client, c.copy);
  } catch (err) {
    if ((err as { code?: string }).code !== '23505') throw err;
    await client.query('ROLLBACK TO SAVEPOINT livetrace_fresh');
    for (const c of copies) await upsert(client, c.w.t, types(c.w.t), c.w.fresh);
    return copies.reduce((n, c) => n + c.w.fresh.length, 0);
  }
  // A value a binary COPY cannot carry as the upsert takes it (copyData: null) goes the upsert's way.
  for (const c of copies) if (!c.copy) await upsert(client, c.w.t, types(c.w.t), c.w.fresh);
  return copies.reduce((n, c) => n + c.w.fresh.length, 0);
}
