// The session-creation lock (TraceSessionStore.underCreateLock) on a PostgreSQL before 14: no
// idle_session_timeout (the set_config answers 42704, pg-client.ts olderServer lets it pass), so a
// holder cut off by a partition keeps the lock until its TCP keepalive. Another instance's lock call
// then waits its statement timeout (30 s) and failed with PostgreSQL's 57014, which the API answered
// 500 (internal error). A lock not had in time is a 503 (retry), on every server version.
// This machine's PostgreSQL is 14+: the older server's answer to the set_config is simulated (42704,
// what a pre-14 server says), the rest is a real PostgreSQL and a real partition (silent-proxy.ts).
import { Client } from 'pg';
import { createWithinLimit } from '../../src/trace-sessions/session-limit';
import { holderCutOff, lockStoreOn } from '../support/create-lock-holder';
import { usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();

describe('the session-creation lock on a PostgreSQL before 14 (real PostgreSQL, simulated version)', () => {
  it('a holder cut off keeps the lock: another instance is answered 503, not 500', async () => {
    const query = Client.prototype.query;
    const older = jest.spyOn(Client.prototype, 'query').mockImplementation(function (this: Client, ...args: unknown[]) {
      if (typeof args[0] === 'string' && args[0].includes('idle_session_timeout'))
        return Promise.reject(Object.assign(new Error('unrecognized configuration parameter "idle_session_timeout"'), { code: '42704', severity: 'ERROR' }));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as never);
    try {
      const url = await spools.pg().database('session_lock_older');
      // Instance A takes the lock, then its link is cut; the older server keeps its session.
      const a = await holderCutOff(url);
      try {
        // Instance B, on a healthy link: its POST /trace-sessions, past the sessions' count.
        const store = { writer: { submit: () => Promise.reject(new Error('not reached')) }, shipper: undefined } as never;
        const b = await createWithinLimit(store, lockStoreOn(url), {} as never, 10).then(
          () => 'created',
          (e: { getStatus?: () => number; message: string }) => `${e.getStatus?.() ?? 500}: ${e.message}`,
        );
        expect(b).toMatch(/^503: .*session-creation lock/);
        await a.release();
      } finally {
        await a.close();
      }
    } finally {
      older.mockRestore();
    }
  });
});
