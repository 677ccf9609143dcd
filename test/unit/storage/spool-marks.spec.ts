// Which rows of a spool the triggers log (src/storage/spool.ts installTriggers): a marked table's
// row only at or below its claim, or outside the writer's range; every row of the others; nothing
// while muted. The rest of the marks (the shipper against PostgreSQL) is test/postgres/ship-marks.spec.ts.
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { markKeys, MARKED, setClaim, shippedTables, SLOT_BITS, slotBounds } from '../../../src/storage/spool';
import { BUCKET_SHIFT } from '../../../src/traces/citation-store';
import { openSlotSpool } from '../../support/slot-spool';

const SLOT = 3;
const BASE = SLOT * 2 ** SLOT_BITS;
let ds: DataSource;
let db: Database;

beforeAll(async () => {
  ({ ds, db } = await openSlotSpool(SLOT));
});

afterAll(() => ds?.destroy());

const logged = () => db.prepare('SELECT tbl, pk FROM ship_log ORDER BY seq').all() as Array<{ tbl: string; pk: string }>;
const meta = (key: string) => (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
const setClaimOf = (table: string, v: number) => setClaim(db, shippedTables(db).find((t) => t.name === table)!, SLOT, v);
const port = (traceId: number, name: string) => db.prepare(`INSERT INTO trace_port (trace_id, port_name, role, scope, created_at) VALUES (?, ?, 'in', 'pass', '2026-12-05T00:00:00Z')`).run(traceId, name);

beforeEach(() => db.exec('DELETE FROM trace_port; DELETE FROM trace_citation; DELETE FROM logical_port_alias; DELETE FROM ship_log'));

describe('spool triggers with high-water marks', () => {
  it('marks the trace rows (trace, ports, citations, path, flows), never the sessions other processes end', () => {
    const marked = Object.fromEntries(shippedTables(db).filter((t) => t.mark).map((t) => [t.name, `${t.mark}>>${t.markShift ?? 0}`]));
    expect(marked).toMatchObject({ trace: 'id>>0', trace_port: 'trace_id>>0', recirc_edge: 'child_id>>0', trace_citation: `bucket>>${BUCKET_SHIFT}`, path: 'id>>0', datapath_flow: 'id>>0' });
    expect(marked.trace_session).toBeUndefined();
    expect(marked.logical_port_alias).toBeUndefined();
    expect(MARKED.trace_citation.shift).toBe(BUCKET_SHIFT);
    // A range of a mark that leads no index gets one of the spool's own; recirc_edge's child_id has one.
    const indexes = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ship_idx_%'`).all() as Array<{ name: string }>).map((r) => r.name);
    expect(indexes).toEqual(['ship_idx_trace_citation_bucket']);
  });

  it('a new spool starts its marks at the bottom of its slot’s range (the first citation bucket inside it)', () => {
    expect(meta(markKeys('trace').shipped)).toBe(String(BASE));
    expect(meta(markKeys('trace').claim)).toBe(String(BASE));
    expect(Number(meta(markKeys('trace_citation').shipped))).toBe(BASE / 32 - 1);
    expect(Math.floor((BASE + 1) / 32)).toBeGreaterThan(slotBounds(SLOT, BUCKET_SHIFT).base);
  });

  it('logs a marked row only at or below its claim, or from another slot’s range; every other table’s row always', () => {
    setClaimOf('trace_port', BASE + 10);
    port(BASE + 11, 'above');
    expect(logged()).toEqual([]);
    db.prepare(`UPDATE trace_port SET datapath = 'dp' WHERE trace_id = ?`).run(BASE + 11);
    db.prepare('DELETE FROM trace_port WHERE trace_id = ?').run(BASE + 11);
    expect(logged()).toEqual([]);
    port(BASE + 10, 'at-claim');
    port(BASE + 2 ** SLOT_BITS + 1, 'other-slot');
    db.prepare(`INSERT INTO logical_port_alias (uuid, port_name) VALUES ('u1', 'lsp1')`).run();
    expect(logged()).toEqual([
      { tbl: 'trace_port', pk: JSON.stringify([BASE + 10, 'at-claim', 'in', 'pass']) },
      { tbl: 'trace_port', pk: JSON.stringify([BASE + 2 ** SLOT_BITS + 1, 'other-slot', 'in', 'pass']) },
      { tbl: 'logical_port_alias', pk: JSON.stringify(['u1', 'lsp1']) },
    ]);
  });

  it('a citation bucket is compared with its claim in buckets; muted writes log nothing', () => {
    const bucket = Math.floor((BASE + 40) / 32);
    setClaimOf('trace_citation', bucket - 1);
    const cite = db.prepare('INSERT INTO trace_citation (kind, ref, bucket, bits) VALUES (0, 7, ?, 1) ON CONFLICT (kind, ref, bucket) DO UPDATE SET bits = bits | 2');
    cite.run(bucket);
    cite.run(bucket);
    expect(logged()).toEqual([]);
    setClaimOf('trace_citation', bucket);
    cite.run(bucket);
    expect(logged()).toEqual([{ tbl: 'trace_citation', pk: JSON.stringify([0, 7, bucket]) }]);
    db.exec('DELETE FROM ship_log; INSERT INTO ship_mute ("on") VALUES (1)');
    try {
      cite.run(bucket);
      db.prepare(`INSERT INTO logical_port_alias (uuid, port_name) VALUES ('u2', 'lsp2')`).run();
    } finally {
      db.exec('DELETE FROM ship_mute');
    }
    expect(logged()).toEqual([]);
  });
});
