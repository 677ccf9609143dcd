// The session-creation lock (TraceSessionStore.underCreateLock, d106f81) is a session-level
// PostgreSQL advisory lock on a connection of its own, idle while its holder counts, inserts and
// waits for the shipper. Across a real partition (a frozen host, a cut link) the server never hears
// that connection go and kept the session, and the lock, until its TCP keepalive noticed (hours by
// default): every api instance's POST /trace-sessions waited on the lock until its statement
// timeout and failed, for as long. The holder's session now tells the server to end it once idle
// longer than any hold (idle_session_timeout), which releases the lock. Real PostgreSQL; the
// partition is test/support/silent-proxy.ts (closes not passed on).
import { holderCutOff, lockStoreOn } from '../support/create-lock-holder';
import { usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();

describe('the session-creation lock and a partition (real PostgreSQL)', () => {
  it('a holder cut off by a partition: the server ends its session, and another instance creates', async () => {
    const url = await spools.pg().database('session_lock_partition');
    // Instance A takes the lock, then its link is cut.
    const a = await holderCutOff(url);
    try {
      // Instance B, on a healthy link.
      const b = await lockStoreOn(url)
        .underCreateLock(async () => 'created')
        .catch((e: Error) => `refused: ${e.message}`);
      expect(b).toBe('created');
      await a.release();
    } finally {
      await a.close();
    }
  });
});
