// The session-creation lock (TraceSessionStore.underCreateLock) held by an api instance cut off from
// PostgreSQL by a real partition (silent-proxy.ts: closes not passed on, as a frozen host or a cut
// link): the set-up of the lock's partition specs (session-create-lock, session-create-lock-older).
import { TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { silentProxy } from './silent-proxy';

/** A store that only creates sessions' lock on `url` (no spool: the specs stop before the insert). */
export const lockStoreOn = (url: string) => new TraceSessionStore({ query: { dialect: 'postgres' }, central: { url }, db: null } as never);

export interface CutHolder {
  /** Lets the holder's fn end (its connection then ends) and waits for it. */
  release(): Promise<void>;
  /** Releases and closes the proxy (in a finally). */
  close(): Promise<void>;
}

/** Resolves once instance A, through a proxy to `url`, holds the lock and its link is cut (its fn waits, as on the shipper). */
export async function holderCutOff(url: string): Promise<CutHolder> {
  const p = await silentProxy(url);
  let letGo: () => void = () => undefined;
  const held = new Promise<void>((r) => (letGo = r));
  let holding: () => void = () => undefined;
  const inside = new Promise<void>((r) => (holding = r));
  const a = lockStoreOn(p.url).underCreateLock(async () => {
    p.partition();
    holding();
    await held;
  });
  // A failing before it holds the lock ends the wait too (its error is the spec's).
  await Promise.race([inside, a]);
  const release = async () => {
    letGo();
    await a;
  };
  return { release, close: async () => (letGo(), await a.catch(() => undefined), await p.close()) };
}
