// Builds replicas from `ovsdb-client dump --format=json` output (one JSON object per table:
// {caption: "<T> table", headings: [...], data: [[...]]}), so the OVN model can be exercised on a
// database captured from real daemons without a server. Used by tests and the bench.
import { Replica, ReplicaSpec } from '../ovsdb/replica/replica';
import type { DatabaseSchema, Row, TableUpdates2 } from '../ovsdb/types';

export class DumpFormatError extends Error {
  constructor(readonly line: number, message: string) {
    super(`ovsdb-client dump line ${line}: ${message}`);
    this.name = 'DumpFormatError';
  }
}

interface DumpTable {
  caption: string;
  headings: string[];
  data: unknown[][];
}

/** The dump as monitor-style initial updates ({table: {uuid: {initial: row}}}). */
export function dumpToUpdates(text: string): TableUpdates2 {
  const out: TableUpdates2 = {};
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let t: DumpTable;
    try {
      t = JSON.parse(line) as DumpTable;
    } catch (e) {
      throw new DumpFormatError(i + 1, `not JSON (${(e as Error).message})`);
    }
    const m = /^(\S+) table$/.exec(t.caption ?? '');
    if (!m || !Array.isArray(t.headings) || !Array.isArray(t.data)) throw new DumpFormatError(i + 1, 'expected {caption: "<T> table", headings, data}');
    const uuidAt = t.headings.indexOf('_uuid');
    if (uuidAt < 0) throw new DumpFormatError(i + 1, `table ${m[1]} without _uuid`);
    const rows: Record<string, { initial: Row }> = {};
    for (const cells of t.data) {
      const uuid = (cells[uuidAt] as [string, string])[1];
      const row: Row = {};
      t.headings.forEach((h, j) => {
        if (h !== '_uuid' && h !== '_version') row[h] = cells[j] as Row[string];
      });
      rows[uuid] = { initial: row };
    }
    out[m[1]] = rows;
  });
  return out;
}

/** A configured replica holding the dump's rows (schema: the .ovsschema JSON). */
export function replicaFromDump(database: string, spec: ReplicaSpec, schema: DatabaseSchema, dumpText: string): Replica {
  const r = new Replica(database, spec);
  r.configure(schema);
  r.replaceAll(dumpToUpdates(dumpText));
  return r;
}
