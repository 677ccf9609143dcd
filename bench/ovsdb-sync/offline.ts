/**
 * Replays a captured monitor reply (bytes as the server sent them) through our stages without a
 * server, so that client-side costs can be compared without ovsdb-server's run-to-run noise
 * (it takes seconds to build the reply before sending its first byte). Each variant in its own
 * process for its own peak RSS.
 *
 *   node offline.js REPLY_FILE SCHEMA_JSON VARIANT
 *     whole    the path before row streaming: JsonSplitter frames the whole reply, one Buffer,
 *              one string, one JSON.parse
 *     ours     what OvsdbClient.monitor does: JsonSplitter.armRows hands each chunk's completed rows
 *              over, each batch JSON.parsed and merged back by table
 *     replica  ours + Replica.configure + replaceAll (decode, indexes, change events)
 *     rowsreplica  ours, each batch applied to a real Replica as it arrives (applyUpdate2 of its
 *              initial rows): the wire objects of a batch die young instead of being promoted
 *     sketch   whole + the decode/index loop proposed for Replica.replaceAll on a
 *              first sync: rows built in one pass over the table's columns, index entries a bare
 *              UUID until a key has two rows, no per-row change event (see FINDINGS.md)
 * Prints one JSON line of milliseconds plus cpu and peak RSS.
 *
 * Capture a reply with: node client.js save REMOTE TABLES_JSON > reply.json (see client.ts)
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { JsonSplitter, parseMessage } from '../../src/ovsdb/json-stream';
import { Replica } from '../../src/ovsdb/replica/replica';
import { SOUTHBOUND } from '../../src/replicas/ovn-tables';
import type { DatabaseSchema, Row as WireRow, TableUpdates2 } from '../../src/ovsdb/types';
import { CellValue, columnType, ColumnType, decodeDatum, emptyValue, Value } from '../../src/ovsdb/replica/datum';

type Index = Map<Value, string | Set<string>>;

function addTo(index: Index, key: Value, uuid: string): void {
  const cur = index.get(key);
  if (cur === undefined) index.set(key, uuid);
  else if (typeof cur === 'string') {
    if (cur !== uuid) index.set(key, new Set([cur, uuid]));
  } else cur.add(uuid);
}

/** The proposed first-sync path of Replica.replaceAll, for comparison (not a replacement). */
function sketchReplica(schema: DatabaseSchema, updates: TableUpdates2): number {
  let rows = 0;
  const tables = new Map<string, { rows: Map<string, Record<string, CellValue>>; byPrefix: Index; byColumn: Map<string, Index> }>();
  for (const [name, spec] of Object.entries(SOUTHBOUND)) {
    const ts = schema.tables[name];
    const wireRows = updates[name];
    if (!ts || !wireRows) continue;
    const cols: Array<[string, ColumnType]> = spec.columns.filter((c) => ts.columns[c]).map((c) => [c, columnType(ts.columns[c])]);
    const indexed = (spec.indexes ?? []).filter((c) => cols.some(([n, t]) => n === c && t.kind !== 'map'));
    const t = { rows: new Map<string, Record<string, CellValue>>(), byPrefix: new Map() as Index, byColumn: new Map(indexed.map((c) => [c, new Map() as Index])) };
    tables.set(name, t);
    for (const uuid in wireRows) {
      const wire = (wireRows[uuid].initial ?? wireRows[uuid].insert) as WireRow | undefined;
      if (!wire) continue;
      const row: Record<string, CellValue> = { _uuid: uuid };
      for (const [c, type] of cols) {
        const d = wire[c];
        row[c] = d === undefined ? emptyValue(type) : decodeDatum(type, d);
      }
      t.rows.set(uuid, row);
      addTo(t.byPrefix, uuid.slice(0, 8), uuid);
      for (const [c, idx] of t.byColumn) {
        const v = row[c];
        if (Array.isArray(v)) for (const x of v) addTo(idx, x, uuid);
        else addTo(idx, v as Value, uuid);
      }
      rows++;
    }
  }
  return rows;
}

const CHUNK = 65536;

function chunks(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  // Copies, as a socket would hand over fresh buffers.
  for (let i = 0; i < buf.length; i += CHUNK) out.push(Buffer.from(buf.subarray(i, i + CHUNK)));
  return out;
}

/** Our streamed path (as OvsdbClient.monitor): rows parsed per chunk, merged back by table. */
function streamed(parts: Buffer[], onBatch?: (table: string, rows: Record<string, never>) => void): { msg: Buffer; tables: TableUpdates2 } {
  const splitter = new JsonSplitter();
  const tables: TableUpdates2 = {};
  splitter.armRows(1, 5, (_id, table, members) => {
    const rows = JSON.parse(`{${members.toString('utf8')}}`) as Record<string, never>;
    if (onBatch) return onBatch(table, rows);
    const into = tables[table];
    if (into === undefined) tables[table] = rows;
    else for (const uuid in rows) into[uuid] = rows[uuid];
  });
  let msg: Buffer | undefined;
  for (const p of parts) for (const m of splitter.push(p)) msg = m;
  return { msg: msg!, tables };
}

function main(): void {
  const [file, schemaFile, variant] = process.argv.slice(2);
  const parts = chunks(readFileSync(file));
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as DatabaseSchema;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const ms: Record<string, number> = {};
  let rows = 0;
  let updates: TableUpdates2 | undefined;
  if (variant === 'whole' || variant === 'sketch') {
    // The path before row streaming: one Buffer for the whole reply, one string, one JSON.parse.
    const splitter = new JsonSplitter();
    let msg: Buffer | undefined;
    for (const p of parts) for (const m of splitter.push(p)) msg = m;
    ms.split = performance.now() - t0;
    const t1 = performance.now();
    updates = (parseMessage(msg!) as { result: [boolean, string, TableUpdates2] }).result[2];
    ms.parse = performance.now() - t1;
  } else if (variant === 'ours' || variant === 'replica') {
    const { msg, tables } = streamed(parts);
    updates = Object.assign((parseMessage(msg) as { result: [boolean, string, TableUpdates2] }).result[2], tables);
    ms.splitAndParse = performance.now() - t0;
  } else if (variant === 'rowsreplica') {
    // Each streamed batch applied to the replica as it arrives (not what the follower does yet).
    const replica = new Replica('OVN_Southbound', SOUTHBOUND);
    replica.on('change', () => undefined);
    replica.configure(schema);
    streamed(parts, (table, rows) => replica.applyUpdate2({ [table]: rows }));
    rows = Object.values(replica.counts()).reduce((a, b) => a + b, 0);
  }
  if (updates) for (const t of Object.values(updates)) rows += Object.keys(t).length;
  if (updates && variant === 'replica') {
    const replica = new Replica('OVN_Southbound', SOUTHBOUND);
    replica.on('change', () => undefined); // as the follower does
    replica.configure(schema);
    const t2 = performance.now();
    replica.replaceAll(updates);
    ms.replaceAll = performance.now() - t2;
  }
  if (updates && variant === 'sketch') {
    const t2 = performance.now();
    sketchReplica(schema, updates);
    ms.replaceAll = performance.now() - t2;
  }
  if (!updates && variant !== 'rowsreplica') {
    throw new Error(`unknown variant ${variant}`);
  }
  ms.total = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  console.log(JSON.stringify({ variant, rows, ...ms, cpuMs: (cpu.user + cpu.system) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
}

main();
