// LIVETRACE_RETENTION_MAX_MB on an agent's spool, against a real PostgreSQL: the spool is the only
// copy of what its shipper has not sent yet, so past the bound it forgets only what PostgreSQL
// already holds and the agent can no longer change, as its own retention does
// (spool-retention-store.ts): muted when PostgreSQL keeps its own history, shipped as deletes when
// PostgreSQL follows the spool. A spool whose PostgreSQL is away keeps its unshipped rows, over the
// bound or not.
import { DatapathFlowStore } from '../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../src/metrics/metrics.service';
import { PathStore } from '../../src/paths/path-store';
import { RetentionService } from '../../src/retention/retention.service';
import type { StoreService } from '../../src/storage/store.service';
import { TraceStore } from '../../src/traces/trace-store';
import { testConfig } from '../support/app';
import { capturedReplies } from '../support/captured-replies';
import { writeCapturedPass } from '../support/captured-pass-write';
import { usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(180_000);

const spools = usePostgresSpools();
const NOW = Date.now();
const MB = 1024 * 1024;
const replies = capturedReplies();

/** Every reply as one packet, its passes' lifetimes ended a day ago, one writer job a pass; returns the trace ids. */
async function fill(s: StoreService, first: number): Promise<number[]> {
  const traces = new TraceStore(s);
  const at = new Date(NOW - 86_400_000).toISOString();
  const out: number[] = [];
  for (const [i, reply] of replies.entries()) {
    let pathId: number | undefined;
    for (const [j, pass] of reply.entries())
      out.push(
        await s.writer.submit((tx) => {
          const w = writeCapturedPass(tx, traces, pass, { at, k: first + i * 100 + j, ended: true, pathId });
          pathId = w.pathId;
          return w.id;
        }),
      );
  }
  return out;
}

const retention = (s: StoreService, env: Record<string, string>) =>
  new RetentionService(s, new TraceStore(s), new PathStore(s), new DatapathFlowStore(s), testConfig({ LIVETRACE_RETENTION_DAYS: '0', LIVETRACE_RETENTION_ROWS: '0', ...env }), new MetricsService());
const spoolIds = (s: StoreService) => (s.db.prepare('SELECT id FROM trace ORDER BY id').all() as Array<{ id: number }>).map((r) => r.id);
const pgIds = async (s: StoreService) => (await s.query.all<{ id: number }>('SELECT id FROM trace ORDER BY id')).map((r) => r.id);
const usedBytes = (s: StoreService) =>
  ((s.db.pragma('page_count', { simple: true }) as number) - (s.db.pragma('freelist_count', { simple: true }) as number)) * (s.db.pragma('page_size', { simple: true }) as number);

/**
 * The packets shipped once, then PostgreSQL stopped and three times as many written: the spool so far
 * over 1 MB that only forgetting unshipped traces too would bring it under.
 */
async function partlyShipped(s: StoreService): Promise<{ shipped: number[]; unshipped: number[] }> {
  const shipped = await fill(s, 0);
  await s.shipper!.synced();
  expect(await pgIds(s)).toEqual(shipped);
  spools.pg().stopServer();
  const unshipped = [...(await fill(s, 100_000)), ...(await fill(s, 200_000)), ...(await fill(s, 300_000))];
  expect(usedBytes(s)).toBeGreaterThan(1.5 * MB);
  return { shipped, unshipped };
}

/** The shipped traces sharing a citation bucket with the first unshipped one: that bucket's row waits in ship_log, so they stay. */
const sharingBucket = (shipped: number[], unshipped: number[]) => shipped.filter((id) => Math.floor(id / 32) === Math.floor(unshipped[0] / 32));

describe('LIVETRACE_RETENTION_MAX_MB on a spool (real PostgreSQL)', () => {
  it.each([
    ['with PostgreSQL keeping its own history: forgets the shipped oldest, muted, never an unshipped trace; PostgreSQL keeps all', 'size_central', { LIVETRACE_CENTRAL_RETENTION_DAYS: '3650' }],
    ['with PostgreSQL following the spool: forgets the same, never an unshipped trace, and PostgreSQL deletes them too', 'size_follow', {}],
  ])('%s', async (_, db, env: Record<string, string>) => {
    const s = await spools.storeOn(await spools.pg().database(db));
    let parts: { shipped: number[]; unshipped: number[] };
    try {
      parts = await partlyShipped(s);
      const r = await retention(s, { LIVETRACE_RETENTION_MAX_MB: '1', ...env }).round(NOW);
      const sharing = sharingBucket(parts.shipped, parts.unshipped);
      expect(r.traces).toBe(parts.shipped.length - sharing.length);
      expect(spoolIds(s)).toEqual([...sharing, ...parts.unshipped]);
      // Still over the bound's low-water mark: the unshipped rows weigh more, and they stay.
      expect(usedBytes(s)).toBeGreaterThan(0.9 * MB);
    } finally {
      spools.pg().startServer();
    }
    await s.shipper!.synced(60_000);
    // Muted, PostgreSQL keeps every trace; following the spool, it deleted the same ones.
    expect(await pgIds(s)).toEqual(env.LIVETRACE_CENTRAL_RETENTION_DAYS ? [...parts.shipped, ...parts.unshipped] : spoolIds(s));
  });
});
