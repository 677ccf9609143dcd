// The reference for replica tests: `ovsdb-client dump --format=json` of the same columns,
// normalised independently of the code under test (straight from the .ovsschema file) into the
// replica's value shapes, so a replica can be compared with the server cell by cell.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

type Json = unknown;

function isSetColumn(t: Json): 'scalar' | 'set' | 'map' {
  if (typeof t === 'string') return 'scalar';
  const o = t as { value?: unknown; min?: number; max?: number | string };
  if (o.value !== undefined) return 'map';
  return (o.min ?? 1) === 1 && (o.max ?? 1) === 1 ? 'scalar' : 'set';
}

function atom(a: Json): Json {
  return Array.isArray(a) && (a[0] === 'uuid' || a[0] === 'named-uuid') ? a[1] : a;
}

function cell(kind: 'scalar' | 'set' | 'map', v: Json): Json {
  if (kind === 'map') return Object.fromEntries(((v as [string, [Json, Json][]])[1] ?? []).map(([k, x]) => [String(atom(k)), atom(x)]));
  if (kind === 'set') {
    const elems = Array.isArray(v) && v[0] === 'set' ? (v[1] as Json[]) : [v];
    return elems.map(atom).sort();
  }
  return atom(v);
}

export function schemaKinds(schemaFile: string): Record<string, Record<string, 'scalar' | 'set' | 'map'>> {
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as { tables: Record<string, { columns: Record<string, { type: Json }> }> };
  const out: Record<string, Record<string, 'scalar' | 'set' | 'map'>> = {};
  for (const [t, ts] of Object.entries(schema.tables)) {
    out[t] = {};
    for (const [c, cs] of Object.entries(ts.columns)) out[t][c] = isSetColumn(cs.type);
  }
  return out;
}

/** uuid → {column: value} for the given table and columns, as the server has them now. */
export async function dumpTable(
  remote: string,
  db: string,
  schemaFile: string,
  table: string,
  columns: string[],
): Promise<Record<string, Record<string, Json>>> {
  const kinds = schemaKinds(schemaFile)[table];
  const { stdout } = await run('ovsdb-client', ['dump', '--format=json', remote, db, table, '_uuid', ...columns], { maxBuffer: 1 << 30 });
  const parsed = JSON.parse(stdout) as { headings: string[]; data: Json[][] };
  const out: Record<string, Record<string, Json>> = {};
  for (const row of parsed.data) {
    const obj: Record<string, Json> = {};
    parsed.headings.forEach((h, i) => {
      if (h !== '_uuid') obj[h] = cell(kinds[h], row[i]);
    });
    out[atom(row[parsed.headings.indexOf('_uuid')]) as string] = obj;
  }
  return out;
}

/** The replica's rows in the same shape (sets sorted: OVSDB sets have no order). */
export function replicaTable(rows: Iterable<Record<string, Json>>, columns: string[]): Record<string, Record<string, Json>> {
  const out: Record<string, Record<string, Json>> = {};
  for (const r of rows) {
    const obj: Record<string, Json> = {};
    for (const c of columns) obj[c] = Array.isArray(r[c]) ? [...(r[c] as Json[])].sort() : r[c];
    out[r._uuid as string] = obj;
  }
  return out;
}
