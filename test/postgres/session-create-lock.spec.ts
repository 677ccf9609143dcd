// The session-creation lock (TraceSessionStore.underCreateLock, d106f81) is a session-level
// PostgreSQL advisory lock on a connection of its own, idle while its holder counts, inserts and
// waits for the shipper. Across a real partition (a frozen host, a cut link) the server never hears
// that connection go and kept the session, and the lock, until its TCP keepalive noticed (hours by
// default): every api instance's POST /trace-sessions waited on the lock until its statement
// timeout and failed, for as long. The holder's session now tells the server to end it once idle
// longer than any hold (idle_session_timeout), which releases the lock. Real PostgreSQL; the
// partition is test/support/silent-proxy.ts (closes not passed on).
import { TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { silentProxy } from '../support/silent-proxy';
import { usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const storeOn = (url: string) => new TraceSessionStore({ query: { dialect: 'postgres' }, central: { url }, db: null } as never);

describe('the session-creation lock and a partition (real PostgreSQL)', () => {
  it('a holder cut off by a partition: the server ends its session, and another instance creates', async () => {
    const url = await spools.pg().database('session_lock_partition');
    const p = await silentProxy(url);
    let release: () => void = () => undefined;
    try {
      const held = new Promise<void>((r) => (release = r));
      let holding: () => void = () => undefined;
      const inside = new Promise<void>((r) => (holding = r));
      // Instance A takes the lock, then its link is cut (its fn waits, as on the shipper).
      const a = storeOn(p.url).underCreateLock(async () => {
        p.partition();
        holding();
        await held;
      });
      await inside;
      // Instance B, on a healthy link.
      const b = await storeOn(url)
        .underCreateLock(async () => 'created')
        .catch((e: Error) => `refused: ${e.message}`);
      expect(b).toBe('created');
      release();
      await a;
    } finally {
      release();
      await p.close();
    }
  });
});
