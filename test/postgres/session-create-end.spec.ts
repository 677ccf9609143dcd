// The session-creation lock's connection is a pg Client of its own (TraceSessionStore.underCreateLock),
// ended once the create is done. pg's end() sends Terminate and then waits for the socket to close,
// that is for the server's end of it: across a partition that began after the last answer (the INSERT
// committed and answered) nothing comes back, TCP keepalive takes hours, and the POST of a session
// made never answered (no statement is waiting then: nothing bounds it by silence). Real PostgreSQL;
// the partition is test/support/silent-proxy.ts, in front of the lock's connection only.
import type { ReplicasService } from '../../src/replicas/replicas.service';
import { TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { TraceSessionsService } from '../../src/trace-sessions/trace-sessions.service';
import { testConfig } from '../support/app';
import { silentProxy } from '../support/silent-proxy';
import { pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const replicas = { chassisName: () => 'api', status: () => ({ synced: false }), model: { generation: 1 } } as unknown as ReplicasService;

describe('a create whose lock connection is cut once its INSERT was answered (real PostgreSQL behind a proxy)', () => {
  it('the POST answers the session it made', async () => {
    const url = await spools.pg().database('session_create_end');
    const p = await silentProxy(url);
    const env = { LIVETRACE_ROLE: 'api', LIVETRACE_MAX_SESSIONS: '1' };
    const store = await spools.storeOn(url, undefined, env);
    const sessions = new TraceSessionStore({ query: store.query, db: store.db, central: { ...store.central!, url: p.url } } as never);
    const api = new TraceSessionsService(testConfig({ LIVETRACE_DB: url, ...env }), store, sessions, replicas);
    const real = sessions.insertCentral.bind(sessions);
    const insert = jest.spyOn(sessions, 'insertCentral').mockImplementationOnce(async (...args) => {
      await real(...args);
      p.partition();
    });
    try {
      // Without a bound the create never ends: a deadline says so instead of jest's timeout.
      let deadline: NodeJS.Timeout | undefined;
      const answered = await Promise.race([
        api.create({ bridge: 'br-int', filter: 'tcp,tp_dst=1' }).then((s) => s.filter, (e: Error) => e.message),
        new Promise((r) => (deadline = setTimeout(() => r('still waiting after 30 s'), 30_000))),
      ]);
      clearTimeout(deadline);
      expect({ answered, insert: insert.mock.calls.length }).toEqual({ answered: 'tcp,tp_dst=1', insert: 1 });
      expect(await pgRows(url, `SELECT filter FROM trace_session WHERE state = 'active'`)).toEqual([{ filter: 'tcp,tp_dst=1' }]);
    } finally {
      insert.mockRestore();
      await p.close();
    }
  });
});
