// The one poll-until-true of the tests: unit tests against fake servers and e2e tests against real
// daemons alike. It polls (never a fixed sleep), first every 10 ms so that in-process fakes answer
// fast, backing off to every 100 ms so that polls of a sandbox's daemons stay cheap.

/**
 * Polls `cond` until it returns a truthy value and returns that value. A `cond` that throws is
 * retried; after `ms` it fails naming `what` and the last error seen.
 */
export async function waitFor<T>(what: string, cond: () => Promise<T | undefined | null | false> | T | undefined | null | false, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (let every = 10; ; every = Math.min(100, every * 2)) {
    try {
      const v = await cond();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
