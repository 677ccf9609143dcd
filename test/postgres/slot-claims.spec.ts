// Writer slots are claimed for long: a row keeps its id in PostgreSQL, so a slot's range is handed
// to another writer only once silent and empty (slot-reuse.spec.ts). A process started with a new
// spool (a container without a volume, a reinstalled host) claims the next one; a deployment that
// loses its spools faster than that runs out of the 8,191 a database has, and then no agent or api
// instance can start. The start says so before that (the claims here are recent): each claim past 80 % warns, naming the remedy, and the last one's
// refusal says why. A slot remembered in a spool is checked against PostgreSQL at start
// (src/storage/slot-claim.ts): a copy of a spool started since, or a spool restored from a backup
// older than what it shipped, is refused, saying why, where both wrote under one slot and
// overwrote each other's rows in PostgreSQL; started while PostgreSQL is away, it is refused
// shipping once PostgreSQL answers.
import { copyFileSync, rmSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import Database from 'better-sqlite3';
import { MAX_SLOT } from '../../src/storage/spool';
import { SLOTS_RUNNING_LOW } from '../../src/storage/slot-take';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const { storeOn } = spools;

const newPath = (verdict: string) => `INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', '2026-12-06T00:00:00Z', 'u0', '${verdict}')`;

/** Starts on `file`, writes one row and ships it: PostgreSQL keeps `before` and gets the new row after them. */
async function continuesAfterPostgres(url: string, file: string, before: string[]): Promise<void> {
  const again = await storeOn(url, file);
  const top = Number((await pgRows(url, 'SELECT MAX(id)::text AS m FROM path'))[0].m);
  const [id] = await again.writer.submit((tx) => [Number(tx.stmt(newPath('{"after":1}')).run().lastInsertRowid)]);
  expect(id).toBeGreaterThan(top);
  await again.shipper!.synced(30_000);
  expect((await pgRows(url, 'SELECT verdict FROM path ORDER BY id')).map((r) => r.verdict)).toEqual([...before, '{"after":1}']);
  await again.onApplicationShutdown();
}

describe('writer slots claimed (real PostgreSQL)', () => {
  it('a new spool claims a new slot: past 80 % of the slots each claim is warned about, naming what to do; past the last, the start fails saying why', async () => {
    const url = await spools.pg().database('slot_claims');
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const first = await storeOn(url, newSpool());
      expect(first.central!.slot).toBe(1);
      // The same process restarted with its spool keeps its slot; without it, it takes the next.
      const lost = await storeOn(url, newSpool());
      expect(lost.central!.slot).toBe(2);
      expect(warn.mock.calls.filter(([m]) => String(m).includes('writer slot'))).toEqual([]);
      // Many spools lost since (containers without a volume): slots up to the warning line are gone.
      await pgRows(url, `INSERT INTO writer_slot (slot, writer, claimed_at) SELECT n, 'gone#' || n, $1 FROM generate_series(3, ${SLOTS_RUNNING_LOW}) n`, [new Date().toISOString()]);
      const low = await storeOn(url, newSpool());
      expect(low.central!.slot).toBe(SLOTS_RUNNING_LOW + 1);
      const said = warn.mock.calls.map(([m]) => String(m)).filter((m) => m.includes('writer slot'));
      expect(said).toHaveLength(1);
      expect(said[0]).toContain(`claimed writer slot ${SLOTS_RUNNING_LOW + 1} for agent@`);
      expect(said[0]).toContain(`${MAX_SLOT - SLOTS_RUNNING_LOW - 1} of ${MAX_SLOT} left: every process started with a new spool`);
      expect(said[0]).toContain('keep each spool on storage that outlives its process');
      await pgRows(url, `INSERT INTO writer_slot (slot, writer, claimed_at) SELECT n, 'gone#' || n, $1 FROM generate_series(${SLOTS_RUNNING_LOW + 2}, ${MAX_SLOT}) n`, [new Date().toISOString()]);
      await expect(storeOn(url, newSpool())).rejects.toThrow(`no writer slot left (${MAX_SLOT} claimed), none given back: every process started with a new spool`);
    } finally {
      warn.mockRestore();
    }
  });

  it('two copies of one spool: the one started first goes on, the other is refused naming the slot and what to do', async () => {
    const url = await spools.pg().database('slot_copies');
    const file = newSpool();
    const copy = newSpool();
    const a = await storeOn(url, file);
    const slot = a.central!.slot;
    await a.writer.db.backup(copy);
    await a.onApplicationShutdown();
    // The copy starts (another host given the same volume, a clone of the VM): its slot is its own now.
    const b = await storeOn(url, copy);
    expect(b.central!.slot).toBe(slot);
    // The original comes back: both would write slot 1's ids.
    await expect(storeOn(url, file)).rejects.toThrow(new RegExp(`^writer slot ${slot} is claimed in PostgreSQL by agent@.*, not by this spool \\(agent@.*\\): a copy of this spool started since, or this one was restored from a backup; .*new LIVETRACE_SPOOL`));
    // The copy restarted keeps its slot.
    await b.onApplicationShutdown();
    expect((await storeOn(url, copy)).central!.slot).toBe(slot);
  });

  // A spool that lost rows it had shipped, under its own claim (a backup taken since its last start,
  // restored; a host crash, below): PostgreSQL keeps them and the spool's ids go on after them. It was
  // refused, and every power loss stopped an agent's tracing for rows PostgreSQL holds anyway.
  it("a spool restored from a backup older than what it shipped starts: its ids go on after PostgreSQL's, whose rows stay", async () => {
    const url = await spools.pg().database('slot_restored');
    const file = newSpool();
    const backup = newSpool();
    const s = await storeOn(url, file);
    await s.writer.submit((tx) => tx.stmt(newPath('{"n":1}')).run());
    await s.shipper!.synced(30_000);
    await s.writer.db.backup(backup);
    await s.writer.submit((tx) => tx.stmt(newPath('{"n":2}')).run());
    await s.shipper!.synced(30_000);
    await s.onApplicationShutdown();
    for (const x of ['', '-wal', '-shm']) rmSync(file + x, { force: true });
    copyFileSync(backup, file);
    await continuesAfterPostgres(url, file, ['{"n":1}', '{"n":2}']);
  });

  // Review of 9e89c12 (its 'left' 1): the crash takes back the spool's commits since its last
  // checkpoint, rows the shipper had sent among them. The crash is the main file without its WAL.
  it('a host crash that took back rows the spool had shipped leaves an agent that starts, its ids after PostgreSQL\'s', async () => {
    const url = await spools.pg().database('slot_crash_shipped');
    const file = newSpool();
    const crashed = newSpool();
    await (await storeOn(url, file)).onApplicationShutdown();
    const settled = new Database(file);
    settled.pragma('wal_checkpoint(TRUNCATE)');
    settled.close();
    const s = await storeOn(url, file);
    const settledAgain = new Database(file);
    settledAgain.pragma('wal_checkpoint(TRUNCATE)');
    settledAgain.close();
    for (const n of [1, 2]) await s.writer.submit((tx) => tx.stmt(newPath(`{"n":${n}}`)).run());
    await s.shipper!.synced(30_000);
    copyFileSync(file, crashed);
    await s.onApplicationShutdown();
    await continuesAfterPostgres(url, crashed, ['{"n":1}', '{"n":2}']);
  });

  // Review of 9e89c12: the spool runs WAL with synchronous = NORMAL, so a commit is durable across a
  // process crash but not across a host crash (power loss, kernel panic, a VM reset) until the next
  // checkpoint (wal_autocheckpoint is 10000 pages: on a quiet agent, hours). The start renamed the
  // claim in PostgreSQL while the spool's new name was only in its WAL: a host crash after the start
  // left the spool with the name before, and the agent was refused at its next start as a copy.
  // The crash is the main file without its WAL, as such a crash may leave it.
  it('a start renames the claim durably: a host crash after it leaves an agent that starts again', async () => {
    const url = await spools.pg().database('slot_host_crash');
    const file = newSpool();
    const crashed = newSpool();
    await (await storeOn(url, file)).onApplicationShutdown();
    // The first start's claim is on disk (a checkpoint since, as a running agent has had).
    const settled = new Database(file);
    settled.pragma('wal_checkpoint(TRUNCATE)');
    settled.close();
    const s = await storeOn(url, file);
    const slot = s.central!.slot;
    copyFileSync(file, crashed);
    await s.onApplicationShutdown();
    expect((await storeOn(url, crashed)).central!.slot).toBe(slot);
  });

  // Review of 9e89c12: a start wrote its new name over the one before it was known committed; after
  // a rename committed unanswered (the process died on it), a start whose commit failed left the spool
  // naming neither the name before nor the one PostgreSQL kept, and the next start was refused.
  it('renames whose commits went unanswered or failed leave an agent that starts again', async () => {
    const url = await spools.pg().database('slot_rename_failed');
    const file = newSpool();
    const a = await storeOn(url, file);
    const slot = a.central!.slot;
    await a.onApplicationShutdown();
    // A start renamed the claim, the commit reached PostgreSQL, its answer did not (died on it).
    await pgRows(url, `UPDATE writer_slot SET writer = 'agent@lost#1' WHERE slot = ${slot}`);
    const db = new Database(file);
    db.prepare(`INSERT INTO meta (key, value) VALUES ('writer_id_next', 'agent@lost#1')`).run();
    db.close();
    // The next start's rename fails at its commit.
    await pgRows(url, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'commit refused'; END $$`);
    await pgRows(url, `CREATE CONSTRAINT TRIGGER refuse AFTER UPDATE ON writer_slot DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()`);
    await expect(storeOn(url, file)).rejects.toThrow('commit refused');
    await pgRows(url, 'DROP TRIGGER refuse ON writer_slot');
    expect((await storeOn(url, file)).central!.slot).toBe(slot);
  });

  // Review of 9e89c12: the offline start's check, once PostgreSQL answered, compared PostgreSQL's ids
  // with the spool's sequence then, which the rows written offline had moved past them: a restored
  // spool that traced a while offline passed, and shipped over PostgreSQL's rows.
  it('a restored spool started while PostgreSQL is away ships nothing, however much it wrote offline', async () => {
    const url = await spools.pg().database('slot_restored_offline');
    const file = newSpool();
    const backup = newSpool();
    const s = await storeOn(url, file);
    await s.writer.db.backup(backup);
    for (const n of [1, 2]) await s.writer.submit((tx) => tx.stmt(newPath(`{"n":${n}}`)).run());
    await s.shipper!.synced(30_000);
    await s.onApplicationShutdown();
    for (const x of ['', '-wal', '-shm']) rmSync(file + x, { force: true });
    copyFileSync(backup, file);
    spools.pg().stopServer();
    let again;
    try {
      again = await storeOn(url, file);
      expect(again.central!.ready).toBeDefined();
      for (const n of [3, 4, 5]) await again.writer.submit((tx) => tx.stmt(newPath(`{"offline":${n}}`)).run());
    } finally {
      spools.pg().startServer();
    }
    await waitFor('the shipper to say why it ships nothing', async () => (/PostgreSQL holds path id/.test(again.shipper!.state.lastError ?? '') ? true : undefined), 60_000);
    expect((await pgRows(url, 'SELECT verdict FROM path ORDER BY id')).map((r) => r.verdict)).toEqual(['{"n":1}', '{"n":2}']);
  });

  // Review of 9e89c12: the claim was checked at a start only, so a spool copied while its agent ran
  // (a VM cloned, a volume attached twice) and started went on beside the original, which never
  // started again: both shipped rows of one slot's ids over each other's.
  it('a copy started beside the running original: the original ships nothing more, saying why', async () => {
    const url = await spools.pg().database('slot_copy_running');
    const file = newSpool();
    const copy = newSpool();
    const a = await storeOn(url, file);
    await a.writer.db.backup(copy);
    const b = await storeOn(url, copy);
    await a.writer.submit((tx) => tx.stmt(newPath('{"original":1}')).run());
    await waitFor('the original to say why it ships nothing', async () => (/claimed in PostgreSQL by/.test(a.shipper!.state.lastError ?? '') ? true : undefined), 60_000);
    await b.writer.submit((tx) => tx.stmt(newPath('{"copy":1}')).run());
    await b.shipper!.synced(30_000);
    expect((await pgRows(url, 'SELECT verdict FROM path')).map((r) => r.verdict)).toEqual(['{"copy":1}']);
  });

  it('a copy started while PostgreSQL is away traces into its spool, and ships nothing once PostgreSQL answers, saying why', async () => {
    const url = await spools.pg().database('slot_copy_offline');
    const file = newSpool();
    const copy = newSpool();
    const a = await storeOn(url, file);
    await a.writer.db.backup(copy);
    await a.onApplicationShutdown();
    await (await storeOn(url, copy)).onApplicationShutdown();
    spools.pg().stopServer();
    let again;
    try {
      again = await storeOn(url, file);
      expect(again.central!.ready).toBeDefined();
      await again.writer.submit((tx) => tx.stmt(newPath('{"offline":1}')).run());
    } finally {
      spools.pg().startServer();
    }
    await waitFor('the shipper to say why it ships nothing', async () => (/claimed in PostgreSQL by/.test(again.shipper!.state.lastError ?? '') ? true : undefined), 60_000);
    expect(again.shipper!.state.up).toBe(false);
    expect(await pgRows(url, 'SELECT verdict FROM path')).toEqual([]);
  });
});
