// A session stored by the version before per-chassis counters (migration SessionChassis), still
// active at the upgrade: that version kept its one agent's counters on the session row itself
// (trace_session.stats). The store is a real SQLite file migrated up to before SessionChassis, the
// row written as that version wrote it, then migrated to the end; one real TraceSessionsService agent,
// the chassis that made it, takes it up (sessionAgentsOnFile: the replicas a stand-in).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../../src/storage/data-source.options';
import { ROOT } from '../../support/app';
import { sessionAgentsOnFile } from '../../support/session-agents';

const SESSION_CHASSIS = 1795780000000;

describe('a session active across the upgrade to per-chassis counters', () => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(() => close());

  async function upgraded(maxTraces: number) {
    const file = join(mkdtempSync(join(tmpdir(), 'livetrace-old-counters-')), 'db.sqlite');
    const dir = join(ROOT, 'migrations');
    const all = readdirSync(dir).filter((f) => /^\d+-.*\.ts$/.test(f)).map((f) => join(dir, f));
    const before = all.filter((f) => Number(f.split('/').pop()!.split('-')[0]) < SESSION_CHASSIS);
    const old = new DataSource({ ...dataSourceOptions(file), migrations: before, logging: false });
    await old.initialize();
    await old.runMigrations();
    // As that version's TraceSessionStore wrote it and its counter flush updated it.
    const stats = { selected: 40, traced: 40, stored: 40, notSelected: 0, dropped: 0, failed: { detrace: 1 } };
    await old.query(
      `INSERT INTO trace_session (chassis, created_at, bridge, filter, logical_port, max_traces, duration_seconds, include_existing, cross_check, expires_at, state, ended_at, stats)
       VALUES ('hv1', '2026-12-01T10:00:00.000Z', 'br-int', 'icmp', NULL, ?, NULL, 0, 0, NULL, 'active', NULL, ?)`,
      [maxTraces, JSON.stringify(stats)],
    );
    await old.destroy();
    const agents = await sessionAgentsOnFile(file, ['hv1']);
    const { sessions, agents: [hv1] } = agents;
    close = agents.close;
    await hv1.onApplicationBootstrap();
    clearInterval((hv1 as unknown as { timer: NodeJS.Timeout }).timer);
    return { hv1, sessions, id: 1 };
  }

  it('keeps the counts stored before the upgrade once its agent has taken it up again', async () => {
    const { hv1, sessions, id } = await upgraded(100);
    expect(hv1.active.has(id)).toBe(true);
    hv1.count(hv1.active.get(id)!, 'stored');
    expect((await hv1.get(id)).stats).toMatchObject({ stored: 41, selected: 40, failed: { detrace: 1 } });
    expect((await sessions.get(id))?.perChassis.hv1).toMatchObject({ stored: 41 });
  });

  it('ends it at maxTraces counting what was stored before the upgrade', async () => {
    const { hv1, id } = await upgraded(42);
    const s = hv1.active.get(id)!;
    hv1.count(s, 'stored');
    hv1.count(s, 'stored');
    expect(await hv1.get(id)).toMatchObject({ state: 'completed', stats: { stored: 42 } });
  });
});
