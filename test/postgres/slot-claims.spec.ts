// Writer slots are claimed for good: a row keeps its id in PostgreSQL, so a slot's range is never
// handed to another writer. A process started with a new spool (a container without a volume, a
// reinstalled host) claims the next one; a deployment that keeps losing its spools runs out of the
// 8,191 a database has, and then no agent or api instance can start. Nothing gives one back, so the
// start says so before that: each claim past 80 % warns, naming the remedy, and the last one's
// refusal says why.
import { Logger } from '@nestjs/common';
import { MAX_SLOT, SLOTS_RUNNING_LOW } from '../../src/storage/spool';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const { storeOn } = spools;

describe('writer slots claimed (real PostgreSQL)', () => {
  it('a new spool claims a new slot, for good: past 80 % of the slots each claim is warned about, naming what to do; past the last, the start fails saying why', async () => {
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
      await pgRows(url, `INSERT INTO writer_slot (slot, writer, claimed_at) SELECT n, 'gone#' || n, '2026-12-06T00:00:00.000Z' FROM generate_series(3, ${SLOTS_RUNNING_LOW}) n`);
      const low = await storeOn(url, newSpool());
      expect(low.central!.slot).toBe(SLOTS_RUNNING_LOW + 1);
      const said = warn.mock.calls.map(([m]) => String(m)).filter((m) => m.includes('writer slot'));
      expect(said).toHaveLength(1);
      expect(said[0]).toContain(`claimed writer slot ${SLOTS_RUNNING_LOW + 1} for agent@`);
      expect(said[0]).toContain(`${MAX_SLOT - SLOTS_RUNNING_LOW - 1} of ${MAX_SLOT} left: a slot is never given back`);
      expect(said[0]).toContain('keep each spool on storage that outlives its process');
      await pgRows(url, `INSERT INTO writer_slot (slot, writer, claimed_at) SELECT n, 'gone#' || n, '2026-12-06T00:00:00.000Z' FROM generate_series(${SLOTS_RUNNING_LOW + 2}, ${MAX_SLOT}) n`);
      await expect(storeOn(url, newSpool())).rejects.toThrow(`no writer slot left (${MAX_SLOT} claimed): a slot is never given back`);
    } finally {
      warn.mockRestore();
    }
  });
});
