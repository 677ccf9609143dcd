// The spool's high-water marks (src/storage/spool.ts installTriggers, shipper.ts): a trace's rows,
// its ports, path and citation bitmaps are shipped by range, not logged one by one. Whatever
// happens to a row (changed or deleted before or after its range was shipped, changed while its
// batch is on the way, a restart with a range claimed and not shipped, a spool that logged every row
// before marks existed), PostgreSQL ends with the spool's rows, compared one by one.
import { installTriggers, SLOT_BITS } from '../../src/storage/spool';
import type { StoreService } from '../../src/storage/store.service';
import { compareSpoolWithPostgres, describeCheck } from '../support/spool-check';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';

// A stop and start of PostgreSQL, and the waits bounded inside the tests, take more than jest's
// default 5 s on a loaded machine.
jest.setTimeout(120_000);

const spools = usePostgresSpools();
const { storeOn } = spools;

/** The shipper's PostgreSQL pool, to make it unreachable or to step into a batch. */
const poolOf = (s: StoreService) => (s.shipper as unknown as { pool: { connect(): Promise<unknown> } }).pool;

/** Batches by hand (the shipper stopped: its timer must not take them) until nothing is left. */
async function drain(s: StoreService): Promise<void> {
  while ((await s.shipper!.shipSome()) > 0);
}

/** The statements the shipper sends from now on (COPY's text too), in order. */
function recordStatements(s: StoreService): string[] {
  const sent: string[] = [];
  const pool = poolOf(s) as unknown as { connect(cb?: unknown): Promise<{ query(q: unknown, ...rest: unknown[]): unknown }> };
  const connect = pool.connect.bind(pool);
  pool.connect = async (cb?: unknown) => {
    // pool.query's own connect (a callback): not the shipper's batches.
    if (cb) return connect(cb);
    const client = await connect();
    const query = client.query.bind(client);
    client.query = (q: unknown, ...rest: unknown[]) => {
      sent.push(typeof q === 'string' ? q : String((q as { text?: string }).text));
      return query(q, ...rest);
    };
    return client;
  };
  return sent;
}

async function expectSame(s: StoreService, url: string): Promise<void> {
  const check = await compareSpoolWithPostgres(s.writer.db.name, url);
  if (check.problems.length) console.log(describeCheck(check));
  expect(check.problems).toEqual([]);
  expect(check.waiting).toBe(0);
  expect(s.shipper!.state.backlog).toBe(0);
}

const newPath = `INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', '2026-12-05T00:00:00Z', 'u0', '{}')`;
const port = `INSERT INTO trace_port (trace_id, port_name, role, scope, created_at) VALUES (?, ?, 'in', 'pass', '2026-12-05T00:00:00Z')`;
const cite = 'INSERT INTO trace_citation (kind, ref, bucket, bits) VALUES (0, ?, ?, ?) ON CONFLICT (kind, ref, bucket) DO UPDATE SET bits = bits | excluded.bits';
const logged = (s: StoreService) => (s.db.prepare(`SELECT COUNT(*) AS n FROM ship_log WHERE tbl IN ('path', 'trace_port', 'trace_citation')`).get() as { n: number }).n;

/** `n` paths, and ports and citation bits of traces `first`…`first + n - 1` (ids of the slot). */
function writeSome(s: StoreService, first: number, n: number): Promise<number[]> {
  return s.writer.submit((tx) => {
    const paths: number[] = [];
    for (let i = 0; i < n; i++) {
      paths.push(Number(tx.stmt(newPath).run().lastInsertRowid));
      tx.stmt(port).run(first + i, 'lsp1');
      tx.stmt(port).run(first + i, 'lsp2');
      tx.stmt(cite).run(7, Math.floor((first + i) / 32), 2 ** ((first + i) % 32));
    }
    return paths;
  });
}

describe('rows shipped by high-water mark (real PostgreSQL)', () => {
  it('inserted, changed and deleted before and after their range was shipped, or while it was on the way: PostgreSQL ends with the spool’s rows', async () => {
    const url = await spools.pg().database('marks_life');
    const s = await storeOn(url, newSpool());
    await s.shipper!.stop();
    const base = s.central!.slot * 2 ** SLOT_BITS;
    const [p1, p2, p3] = await writeSome(s, base + 1, 3);
    // Values an array literal must quote or escape (rows travel as one array a column).
    await s.writer.submit((tx) => {
      for (const name of ['q"uote\\back{b},c', 'NULL', '', ' sp ', 'é\ttab\nline']) tx.stmt(port).run(base + 3, name);
    });
    // Changed before their range was claimed: nothing logged, the range reads them as they are.
    await s.writer.submit((tx) => {
      tx.stmt(`UPDATE path SET updated_at = 'u1' WHERE id = ?`).run(p1);
      tx.stmt('DELETE FROM path WHERE id = ?').run(p2);
      tx.stmt('DELETE FROM trace_port WHERE trace_id = ?').run(base + 2);
      tx.stmt(cite).run(7, Math.floor((base + 1) / 32), 2 ** 30);
    });
    expect(logged(s)).toBe(0);
    await drain(s);
    await expectSame(s, url);
    expect(await pgRows(url, 'SELECT id, updated_at FROM path ORDER BY id')).toEqual([
      { id: String(p1), updated_at: 'u1' },
      { id: String(p3), updated_at: 'u0' },
    ]);

    // Changed after they were shipped: logged (at or below the claim) and shipped by key.
    await s.writer.submit((tx) => {
      tx.stmt(`UPDATE path SET updated_at = 'u2' WHERE id = ?`).run(p3);
      tx.stmt('DELETE FROM path WHERE id = ?').run(p1);
      tx.stmt(port).run(base + 1, 'lsp-path'); // a path-scoped port added to an older trace
      tx.stmt(cite).run(7, Math.floor((base + 1) / 32), 2 ** 31);
      tx.stmt('DELETE FROM trace_port WHERE trace_id = ? AND port_name = ?').run(base + 3, 'lsp2');
    });
    expect(logged(s)).toBe(5);
    await drain(s);
    await expectSame(s, url);

    // Changed after its range was read and before PostgreSQL committed it: logged, shipped again.
    const [p4] = await writeSome(s, base + 40, 1);
    const pool = poolOf(s);
    const connect = pool.connect.bind(pool);
    pool.connect = async () => {
      pool.connect = connect;
      await s.writer.submit((tx) => {
        tx.stmt(`UPDATE path SET updated_at = 'late' WHERE id = ?`).run(p4);
        tx.stmt('DELETE FROM trace_port WHERE trace_id = ? AND port_name = ?').run(base + 40, 'lsp1');
      });
      return connect();
    };
    await s.shipper!.shipSome();
    expect(await pgRows(url, `SELECT updated_at FROM path WHERE id = ${p4}`)).toEqual([{ updated_at: 'u0' }]);
    expect(logged(s)).toBe(2);
    await drain(s);
    await expectSame(s, url);
    expect(await pgRows(url, `SELECT updated_at FROM path WHERE id = ${p4}`)).toEqual([{ updated_at: 'late' }]);
  });

  it('a restart with a range claimed and not shipped (PostgreSQL away) ships it, and what changed in it, at the next start', async () => {
    const url = await spools.pg().database('marks_restart');
    const file = newSpool();
    const s = await storeOn(url, file);
    await s.shipper!.stop();
    const base = s.central!.slot * 2 ** SLOT_BITS;
    const paths = await writeSome(s, base + 1, 50);
    const pool = poolOf(s);
    pool.connect = () => Promise.reject(new Error('PostgreSQL away (test)'));
    await expect(s.shipper!.shipSome()).rejects.toThrow(/away/);
    const meta = (key: string) => Number((s.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string }).value);
    expect(meta('ship_claim:path')).toBe(paths[49]);
    expect(meta('ship_mark:path')).toBe(paths[0] - 1);
    // Inside the claimed range (logged) and above it (not), then the process ends.
    await s.writer.submit((tx) => {
      tx.stmt(`UPDATE path SET updated_at = 'changed' WHERE id = ?`).run(paths[10]);
      tx.stmt('DELETE FROM path WHERE id = ?').run(paths[20]);
    });
    await writeSome(s, base + 51, 10);
    await s.onApplicationShutdown();

    const again = await storeOn(url, file);
    await again.shipper!.synced(30_000);
    await expectSame(again, url);
    expect(await pgRows(url, 'SELECT COUNT(*)::int AS n FROM path')).toEqual([{ n: 59 }]);
  });

  it('a range PostgreSQL committed whose marks did not move (the process ended before they did) is sent again: its COPY meets the keys, the batch upserts them, PostgreSQL ends with the spool’s rows', async () => {
    const url = await spools.pg().database('marks_resend');
    const file = newSpool();
    const s = await storeOn(url, file);
    await s.shipper!.stop();
    const base = s.central!.slot * 2 ** SLOT_BITS;
    const marks = () => s.db.prepare(`SELECT key, value FROM meta WHERE key LIKE 'ship\\_%' ESCAPE '\\'`).all() as Array<{ key: string; value: string }>;
    const before = marks();
    const paths = await writeSome(s, base + 1, 40);
    await s.writer.submit((tx) => tx.stmt(port).run(base + 2, 'é\ttab\\"q"'));
    const sent = recordStatements(s);
    await drain(s);
    // The ranges went by COPY (paths, ports, citations), each committed.
    expect(sent.filter((t) => t.startsWith('COPY ')).length).toBeGreaterThanOrEqual(3);
    expect(sent).not.toContain('ROLLBACK TO SAVEPOINT livetrace_fresh');
    await expectSame(s, url);
    // After PostgreSQL's COMMIT and before the spool's marks moved: the marks as they were.
    await s.writer.submit((tx) => {
      for (const m of before) tx.stmt('UPDATE meta SET value = ? WHERE key = ?').run(m.value, m.key);
      tx.stmt(`UPDATE path SET updated_at = 'after' WHERE id = ?`).run(paths[5]);
    });
    await s.onApplicationShutdown();

    const again = await storeOn(url, file);
    // Before its first batch (the shipper starts on a timer).
    const resent = recordStatements(again);
    await again.shipper!.synced(30_000);
    expect(resent).toContain('ROLLBACK TO SAVEPOINT livetrace_fresh');
    await expectSame(again, url);
    expect(await pgRows(url, 'SELECT COUNT(*)::int AS n FROM path')).toEqual([{ n: 40 }]);
    expect(await pgRows(url, `SELECT updated_at FROM path WHERE id = ${paths[5]}`)).toEqual([{ updated_at: 'after' }]);
  });

  it('a spool that logged every row before marks existed: its waiting entries are shipped, new rows by range', async () => {
    const url = await spools.pg().database('marks_upgrade');
    const file = newSpool();
    const s = await storeOn(url, file);
    await s.shipper!.stop();
    poolOf(s).connect = () => Promise.reject(new Error('PostgreSQL away (test)'));
    // The spool as the previous version left it: no marks, a trigger logging every row.
    s.writer.db.exec(`DELETE FROM meta WHERE key LIKE 'ship\\_%' ESCAPE '\\'`);
    installTriggers(s.writer.db, s.central!.tables);
    const base = s.central!.slot * 2 ** SLOT_BITS;
    await writeSome(s, base + 1, 20);
    expect(logged(s)).toBe(20 * 4 - 19); // 20 paths, 40 ports, one citation row of bucket (base+1)/32 … (base+20)/32
    await s.onApplicationShutdown();

    const again = await storeOn(url, file);
    await writeSome(again, base + 21, 20);
    await again.shipper!.synced(30_000);
    await expectSame(again, url);
    expect(await pgRows(url, 'SELECT COUNT(*)::int AS n FROM trace_port')).toEqual([{ n: 80 }]);
  });
});
