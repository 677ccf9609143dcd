// A pass that went to ovn-controller and out of a port with no logical port (no iface-id: the
// physical NIC of a provider network a GARP floods to while the router learns it with put_arp):
// passVerdict counts that output among its kinds ('mixed'), so the stored kinds must too, and the
// code before 2f4a6ca stored such a pass with no kind at all ("kinds":[]). The controller cause is
// the real one of unresolved-next-hop's packet-in on every pair.
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import type { Verdict } from '../../../src/correlation/types';
import { passOfStored } from '../../../src/paths/path-verdict';
import { verdictJson } from '../../../src/traces/trace-record';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import { packetNodes, VERDICT_VERSIONS } from '../../support/verdict-fixtures';

jest.setTimeout(60_000);

function floodVerdicts(): Verdict[] {
  return VERDICT_VERSIONS.map((version) => {
    const v = packetNodes(version, 'unresolved-next-hop').find((n) => n.trace.verdict.kind === 'controller')!.trace.verdict;
    return { ...v, kind: 'mixed', outputs: [], unmappedOutputs: ['eth1'] };
  });
}

it('stores an unmapped output beside the controller, and reads it back as both', () => {
  for (const v of floodVerdicts()) {
    const j = verdictJson(v);
    expect(j.kinds).toEqual(['output', 'controller']);
    expect(passOfStored(j).verdict.kind).toBe('mixed');
  }
});

describe('migration ControllerKind', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  beforeAll(async () => {
    ({ dir, ds, db } = await openMigratedSqlite('livetrace-controller-kind-unmapped-', { writer: false }));
  });
  afterAll(() => closeMigratedSqlite({ dir, ds }));

  it('leaves a row stored with no kind valid JSON, as it was', async () => {
    const ran = () => (db.prepare('SELECT name FROM migrations').all() as Array<{ name: string }>).map((r) => r.name);
    while (ran().includes('ControllerKind1796800000000')) await ds.undoLastMigration();
    // As the code before wrote them: no kind from an unmapped output, none for a 'mixed' controller.
    const before = floodVerdicts().map((v) => JSON.stringify({ ...verdictJson(v), kinds: [] }));
    const ins = db.prepare(
      `INSERT INTO trace (chassis, created_at, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
       VALUES ('hv1', '2026-12-06T06:00:00.000Z', 'trace', '0x0', '', '', '', '', ',,', ?, 0, x'')`,
    );
    for (const b of before) ins.run(b);
    await ds.runMigrations();
    const got = db.prepare('SELECT verdict_kinds AS kinds, verdict FROM trace ORDER BY id').all() as Array<{ kinds: string; verdict: string }>;
    for (const g of got) expect(() => JSON.parse(g.verdict)).not.toThrow();
    expect(got).toEqual(before.map((verdict) => ({ kinds: ',,', verdict })));
  });
});
