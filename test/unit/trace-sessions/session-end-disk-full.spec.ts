// A session's end whose write fails: a real full disk (SQLite's own SQLITE_FULL on the writer's
// connection, test/support/disk-full.ts) refusing the UPDATE that stores it. The agent lets go of the
// session at once (no more traces for it), so the end must reach the store once there is room again,
// and the failed write must not be an unhandled rejection (Node's default ends the process on one).
// One real TraceSessionsService agent on a real migrated SQLite file; the replicas are a stand-in.
import type { MigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';
import { diskFull } from '../../support/disk-full';
import { emptyStats } from '../../../src/trace-sessions/trace-session-store';
import type { TraceSessionsService } from '../../../src/trace-sessions/trace-sessions.service';
import { sessionAgentsOnOneFile } from '../../support/session-agents';

describe('a session end written on a full disk', () => {
  let close: () => Promise<void> = async () => undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => process.on('unhandledRejection', onUnhandled));
  afterEach(async () => {
    process.off('unhandledRejection', onUnhandled);
    unhandled.length = 0;
    await close();
  });

  async function oneAgent(maxTraces: number | null) {
    const { store, sessions, agents, close: closeAll } = await sessionAgentsOnOneFile('livetrace-end-full-', ['hv1']);
    close = closeAll;
    const id = await store.writer.submit((tx) =>
      sessions.insert(tx, {
        chassis: 'api-1', createdAt: new Date().toISOString(), bridge: 'br-int', filter: 'icmp', logicalPort: null, maxTraces,
        durationSeconds: null, includeExisting: false, crossCheck: false, expiresAt: null, onChassis: null, state: 'active', endedAt: null,
        stats: emptyStats(), perChassis: {},
      }),
    );
    const [hv1] = agents;
    await hv1.onApplicationBootstrap();
    clearInterval((hv1 as unknown as { timer: NodeJS.Timeout }).timer);
    const full = diskFull({ db: store.writer.db, writer: store.writer } as unknown as MigratedSqlite & { writer: StoreWriter });
    const refuse = () => store.writer.db.exec(`CREATE TRIGGER refuse BEFORE UPDATE ON trace_session BEGIN ${full.now} END`);
    const room = () => store.writer.db.exec('DROP TRIGGER refuse');
    const housekeeping = (a: TraceSessionsService) => (a as unknown as { housekeeping(): Promise<void> }).housekeeping();
    const settled = async () => {
      await store.writer.idle();
      await new Promise((r) => setImmediate(r));
    };
    return { hv1, id, sessions, refuse, room, housekeeping, settled };
  }

  it('maxTraces reached: the end is stored once there is room, and nothing is thrown away unhandled', async () => {
    const { hv1, id, sessions, refuse, room, housekeeping, settled } = await oneAgent(1);
    refuse();
    hv1.count(hv1.active.get(id)!, 'stored');
    await settled();
    expect(unhandled).toEqual([]);
    expect(hv1.active.has(id)).toBe(false); // no more traces for it here

    room();
    await housekeeping(hv1).catch(() => undefined);
    await housekeeping(hv1).catch(() => undefined);
    const answer = await sessions.get(id);
    expect(answer).toMatchObject({ state: 'completed', stats: { stored: 1 } });
    expect(answer?.endedAt).not.toBeNull();
  });

  it('DELETE: the stop fails saying why, and a second DELETE once there is room stops it', async () => {
    const { hv1, id, sessions, refuse, room } = await oneAgent(null);
    refuse();
    await expect(hv1.stop(id)).rejects.toMatchObject({ code: 'SQLITE_FULL' });
    room();
    expect(await hv1.stop(id)).toMatchObject({ state: 'stopped' });
    expect(await sessions.get(id)).toMatchObject({ state: 'stopped' });
  });
});
