// Real recorded rows (test/fixtures/paths/lb-vip-reused-recirc.json: a sandbox run on Debian 12,
// a load-balanced TCP connection lsp2 -> VIP -> lsp3, two packets) where the datapath reused
// recirculation ids: the backend's egress pass has recirc_id 0x12 and is the child of passes 0x19
// (first packet) and 0x17 (second packet), and 0x17 names a pass of each packet. The service of the
// time stored the passes in three path fragments. On a migrated store holding those rows, every
// path's passes come back along the edges (the smaller 0x12 last), GET /paths/:id and the
// cross-check's builder agree from every trace, and the order by number would have been wrong.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { PathBuilder } from '../../../src/paths/path-builder';
import { PathStore } from '../../../src/paths/path-store';
import { PathsService } from '../../../src/paths/paths.service';
import { StoreWriter } from '../../../src/storage/writer';
import { TraceStore } from '../../../src/traces/trace-store';
import { oneChassis } from '../../support/cross-chassis';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

type Rows = Record<string, Array<Record<string, unknown>>>;
const FIXTURE = JSON.parse(readFileSync(join(__dirname, '../../fixtures/paths/lb-vip-reused-recirc.json'), 'utf8')) as Rows & { source: string };

describe('recorded paths with reused recirculation ids', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;
  let builder: PathBuilder;
  let paths: PathsService;

  beforeAll(async () => {
    ({ dir, ds, db } = await openMigratedSqlite('livetrace-recorded-paths-', { writer: false }));
    for (const table of ['datapath_flow', 'recirc_edge', 'path', 'trace', 'trace_port']) {
      for (const row of FIXTURE[table]) {
        // The fixture leaves the packed steps out: these reads never unpack them. It was captured
        // before trace_port carried its trace's time (the list's order): the trace gives it, as the
        // migration's fill does.
        const traceTime = (id: unknown): unknown => FIXTURE.trace.find((t) => t.id === id)?.created_at;
        const r = table === 'trace' ? { ...row, steps: Buffer.alloc(0) } : table === 'trace_port' && !('created_at' in row) ? { ...row, created_at: traceTime(row.trace_id) } : row;
        const cols = Object.keys(r);
        db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...cols.map((c) => r[c] as never));
      }
    }
    writer = new StoreWriter(db);
    const traces = new TraceStore({ db, writer });
    const store = new PathStore({ db });
    builder = new PathBuilder(store);
    paths = new PathsService(builder, traces, oneChassis(store));
  });

  afterAll(async () => {
    await closeMigratedSqlite({ dir, ds, writer });
  });

  const recircOfFlow = (id: number) => String(FIXTURE.datapath_flow.find((f) => f.id === id)!.recirc_id);

  it('the rows are the reuse: a child smaller than its parent, one id on two packets’ passes', () => {
    const smaller = FIXTURE.recirc_edge.filter((e) => Number(recircOfFlow(e.child_id as number)) < Number(recircOfFlow(e.parent_id as number)));
    expect(smaller.map((e) => `${recircOfFlow(e.parent_id as number)}->${recircOfFlow(e.child_id as number)}`).sort()).toEqual(['0x17->0x12', '0x19->0x12']);
    expect(FIXTURE.datapath_flow.filter((f) => f.recirc_id === '0x17')).toHaveLength(2);
  });

  it.each([
    // path id: the passes' recirc ids in edge order (each path as stored is a fragment of one packet).
    [18, ['0x0', '0x17', '0x12']],
    [19, ['0x0', '0x17', '0x18', '0x19', '0x12']],
    [20, ['0x0', '0x17', '0x18', '0x19', '0x12']],
  ] as const)('path %i: passes along the edges, the same for GET /paths/:id and the cross-check', async (id, recircs) => {
    const got = await paths.get(id, false);
    expect(got.passes.map((p) => p.recircId)).toEqual(recircs);
    // Each pass after the first has its parent before it.
    const at = new Map(got.passes.map((p, i) => [p.datapathFlowId, i]));
    for (const e of got.edges) expect(at.get(e.parentDatapathFlowId)!).toBeLessThan(at.get(e.childDatapathFlowId)!);
    expect(got.edges).toHaveLength(got.passes.length - 1);
    // The cross-check builds the path of the trace it is asked about, from any trace stored in it.
    const order = got.passes.map((p) => p.id);
    for (const p of got.passes.filter((x) => x.pathId === id)) expect((await builder.ofTrace(p.id))!.passes.map((r) => r.id)).toEqual(order);
    // By recirc id number (the old GET /paths/:id) the egress pass 0x12 came right after the root.
    expect([...got.passes].sort((a, b) => Number(a.recircId) - Number(b.recircId)).map((p) => p.recircId)[1]).toBe('0x12');
    expect(got.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp3'], incomplete: false });
  });
});
