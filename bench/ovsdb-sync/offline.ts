/**
 * Replays a captured monitor reply (bytes as the server sent them) through our stages without a
 * server, so that client-side costs can be compared without ovsdb-server's run-to-run noise
 * (it takes seconds to build the reply before sending its first byte). Each variant in its own
 * process for its own peak RSS.
 *
 *   node offline.js REPLY_FILE SCHEMA_JSON VARIANT
 *     ours     JsonSplitter over 64 KB chunks, parseMessage (concat, toString, one JSON.parse)
 *     replica  ours + Replica.configure + replaceAll (decode, indexes, change events)
 *     rows     streaming sketch: cut the reply into rows while scanning and JSON.parse each row
 *              (what a row-yielding splitter would do; no whole-message Buffer or string)
 *     rowsbatch  same cut, but one JSON.parse per 64 KB chunk of completed rows
 *     rowsreplica  rowsbatch, each batch applied at once to a real Replica (applyUpdate2 of its
 *              initial rows): the wire objects of a batch die young instead of being promoted
 *     sketch   ours (split + parse) + the decode/index loop proposed for Replica.replaceAll on a
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

/**
 * The monitor reply is {"id":..,"result":[found,txn,{TABLE:{UUID:ROW,...},...}],"error":null}:
 * tables sit at depth 3, rows at depth 4, a row's value opens depth 5. This scanner hands every
 * completed row's bytes to `onRow` as it goes; bytes of a row split across chunks are carried over.
 */
class RowCutter {
  private depth = 0;
  private inString = false;
  private escape = false;
  private carry: Buffer | null = null;
  private table = '';
  private keyStart = -1;
  private lastKey = '';

  constructor(private readonly onRows: (table: string, text: string) => void, private readonly batch: boolean) {}

  push(input: Buffer): void {
    const b = this.carry ? Buffer.concat([this.carry, input]) : input;
    const base = this.carry ? this.carry.length : 0;
    this.carry = null;
    let rowStart = -1; // start of the current row's "UUID": key, in b
    let batchStart = -1;
    let batchEnd = -1;
    let depth = this.depth;
    let i = this.inString ? base : 0;
    // Re-scan from 0 when carrying: the carried bytes start at the unfinished row's key.
    if (base > 0) {
      depth = 4;
      i = 0;
      this.inString = false;
      this.escape = false;
    }
    const len = b.length;
    const flush = () => {
      if (batchStart >= 0) this.onRows(this.table, `{${b.toString('utf8', batchStart, batchEnd)}}`);
      batchStart = -1;
    };
    for (; i < len; i++) {
      const c = b[i];
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === 0x5c) this.escape = true;
        else if (c === 0x22) {
          this.inString = false;
          if (depth === 3 || depth === 4) this.lastKey = b.toString('utf8', this.keyStart, i);
        }
        continue;
      }
      if (c === 0x22) {
        this.inString = true;
        this.keyStart = i + 1;
        if (depth === 4 && rowStart < 0) rowStart = i;
      } else if (c === 0x7b || c === 0x5b) {
        depth++;
        if (depth === 4) {
          flush();
          this.table = this.lastKey;
        }
      } else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 4 && rowStart >= 0) {
          if (this.batch) {
            if (batchStart < 0) batchStart = rowStart;
            batchEnd = i + 1;
          } else this.onRows(this.table, `{${b.toString('utf8', rowStart, i + 1)}}`);
          rowStart = -1;
        } else if (depth === 3) {
          flush();
          rowStart = -1;
        }
      } else if (c === 0x2c && depth === 4) {
        rowStart = -1;
      }
    }
    flush();
    this.depth = depth;
    if (rowStart >= 0) {
      this.carry = b.subarray(rowStart);
      this.inString = false;
    }
  }
}

function main(): void {
  const [file, schemaFile, variant] = process.argv.slice(2);
  const parts = chunks(readFileSync(file));
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as DatabaseSchema;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const ms: Record<string, number> = {};
  let rows = 0;
  if (variant === 'ours' || variant === 'replica' || variant === 'sketch') {
    const splitter = new JsonSplitter();
    let msg: Buffer | undefined;
    for (const p of parts) for (const m of splitter.push(p)) msg = m;
    ms.split = performance.now() - t0;
    const t1 = performance.now();
    const value = parseMessage(msg!) as { result: [boolean, string, TableUpdates2] };
    ms.parse = performance.now() - t1;
    for (const t of Object.values(value.result[2])) rows += Object.keys(t).length;
    if (variant === 'replica') {
      const replica = new Replica('OVN_Southbound', SOUTHBOUND);
      let changes = 0;
      replica.on('change', () => changes++); // as the follower does
      replica.configure(schema);
      const t2 = performance.now();
      replica.replaceAll(value.result[2]);
      ms.replaceAll = performance.now() - t2;
    }
    if (variant === 'sketch') {
      const t2 = performance.now();
      sketchReplica(schema, value.result[2]);
      ms.replaceAll = performance.now() - t2;
    }
  } else if (variant === 'rowsreplica') {
    const replica = new Replica('OVN_Southbound', SOUTHBOUND);
    let changes = 0;
    replica.on('change', () => changes++);
    replica.configure(schema);
    const cutter = new RowCutter((table, text) => {
      const parsed = JSON.parse(text) as TableUpdates2[string];
      replica.applyUpdate2({ [table]: parsed });
    }, true);
    for (const p of parts) cutter.push(p);
    rows = Object.values(replica.counts()).reduce((a, b) => a + b, 0);
  } else if (variant === 'rows' || variant === 'rowsbatch') {
    const tables: TableUpdates2 = {};
    const cutter = new RowCutter((table, text) => {
      const parsed = JSON.parse(text) as Record<string, never>;
      const t = (tables[table] ??= {});
      for (const k in parsed) {
        t[k] = parsed[k];
        rows++;
      }
    }, variant === 'rowsbatch');
    for (const p of parts) cutter.push(p);
  } else throw new Error(`unknown variant ${variant}`);
  ms.total = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  console.log(JSON.stringify({ variant, rows, ...ms, cpuMs: (cpu.user + cpu.system) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
}

main();
