// A tunnel hop read before the receiving chassis's agent stored this packet's arrival links the
// nearest arrival stored that fits, an earlier packet's (issue 19, docs/multi-chassis.md "Time
// window"). The receiver's chassis_mark says how far its agent has stored what it traced: behind
// the point where a later stored arrival could still win, the hop and the verdict say provisional
// (with the chassis and its mark); past it, not. Captured debian12 lines on a migrated SQLite store.
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { writeMark } from '../../../src/paths/chassis-mark-store';
import { PathBuilder } from '../../../src/paths/path-builder';
import { PathStore } from '../../../src/paths/path-store';
import { isProvisional, settlesAt } from '../../../src/paths/provisional';
import type { StoreWriter } from '../../../src/storage/writer';
import { CapturedFlow, capturedFlows } from '../../support/captured-multichassis';
import { oneChassis } from '../../support/cross-chassis';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import { tracedPasses } from '../../support/traced-pass';

const ENCAP = { hv1: '192.168.0.1', hv2: '192.168.0.2' };
const T0 = Date.parse('2026-12-07T03:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const one = (file: string, pred: (l: CapturedFlow) => boolean): CapturedFlow => capturedFlows('debian12', file).filter(pred)[0];
const sent = one('hv1.flows-m.txt', (l) => l.key.includes('dst=50:54:00:00:00:02') && l.actions.includes('tnl_push('));
const arrived = one('hv2.flows-m.txt', (l) => l.key.includes('tunnel(') && l.actions === 'vif2');

describe('settlesAt: the receiver mark a hop waits for', () => {
  const sender = { from: T0, to: T0 + 50 };
  it('linked: past the sender start by the pick’s distance (a later arrival is farther), at most the window’s end', () => {
    expect(settlesAt({ near: sender, pick: { from: T0 - 900 } }, 1000)).toBe(T0 + 900);
    expect(settlesAt({ near: sender, pick: { from: T0 + 200 } }, 1000)).toBe(T0 + 200);
    expect(settlesAt({ near: { from: T0, to: T0 + 100 }, pick: { from: T0 - 5000 } }, 1000)).toBe(T0 + 1100);
  });
  it('unlinked: the end of the link window (the sender’s end plus the skew)', () => {
    expect(settlesAt({ near: sender }, 1000)).toBe(T0 + 1050);
  });
  it('a mark at the point itself, or none, is provisional; past it, not', () => {
    expect(isProvisional({ near: sender }, T0 + 1050, 1000)).toBe(true);
    expect(isProvisional({ near: sender }, null, 1000)).toBe(true);
    expect(isProvisional({ near: sender }, T0 + 1051, 1000)).toBe(false);
  });
});

describe('GET /paths/:id across chassis, against the receiving chassis’s mark', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;

  beforeEach(async () => {
    ({ dir, ds, db, writer } = await openMigratedSqlite('livetrace-provisional-'));
  });
  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds, writer });
  });

  const pass = (chassis: string, l: CapturedFlow, from: number, to: number) => writer.submit((tx) => tracedPasses(db)(tx, { chassis, l, ufid: `${chassis}-${from}`, from, to, seen: to }));
  const mark = (chassis: string, at: number) => writer.submit((tx) => writeMark(tx, { chassis, tracedThrough: iso(at) }, iso(at)));
  const read = async (traceId: number, config = {}, encap: Record<string, string> = ENCAP) => {
    const store = new PathStore({ db });
    const builder = new PathBuilder(store);
    return oneChassis(store, config, encap).extend((await builder.ofTrace(traceId))!, (id) => builder.ofTrace(id));
  };

  it('an earlier packet’s arrival linked while hv2’s mark is behind: provisional, naming hv2 and its mark; its own arrival once the mark passed: not', async () => {
    // hv2 received an earlier packet at T0; this one left hv1 at T0 + 900 (within the skew of that arrival's lifetime).
    const earlier = await pass('hv2', arrived, T0, T0 + 400);
    const sender = await pass('hv1', sent, T0 + 900, T0 + 950);
    await mark('hv2', T0 + 1000);
    const before = await read(sender);
    expect(before!.verdict.tunnels).toEqual([expect.objectContaining({ remoteChassis: 'hv2', toTraceId: earlier, provisional: true })]);
    expect(before!.verdict).toMatchObject({ provisional: true });
    expect(before!.verdict.provisionalReason).toContain(`chassis hv2 has stored what its agent traced through ${iso(T0 + 1000)} only`);
    expect(before!.verdict.provisionalReason).toContain(`the hop from trace ${sender}`);

    // hv2's agent stores this packet's own arrival, then its mark moves past it.
    const own = await pass('hv2', arrived, T0 + 1200, T0 + 1250);
    await mark('hv2', T0 + 1500);
    const after = await read(sender);
    expect(after!.verdict.tunnels).toEqual([expect.objectContaining({ remoteChassis: 'hv2', toTraceId: own })]);
    expect(after!.verdict.tunnels[0]).not.toHaveProperty('provisional');
    expect(after!.verdict).not.toHaveProperty('provisional');
    expect(after!.verdict).not.toHaveProperty('provisionalReason');
    // Read from the arrival (the sender found backwards), once hv1's mark has passed the point a
    // later sender could be nearer: the same verdict.
    await mark('hv1', T0 + 1600);
    expect((await read(own))!.verdict).toEqual(after!.verdict);
  });

  it('read from an arrival while the sending chassis’s mark is behind: an earlier packet’s sender linked, provisional naming hv1 and its mark; its own sender once the mark passed: not', async () => {
    // hv1 sent an earlier packet at T0; this packet arrived on hv2 at T0 + 900, and hv1's agent has
    // not stored its own sender yet (it started at T0 + 850, after hv1's mark).
    const earlier = await pass('hv1', sent, T0, T0 + 50);
    const arrival = await pass('hv2', arrived, T0 + 900, T0 + 950);
    await mark('hv2', T0 + 2000);
    await mark('hv1', T0 + 800);
    const before = await read(arrival);
    expect(before!.verdict.tunnels).toEqual([expect.objectContaining({ fromTraceId: earlier, toTraceId: arrival, provisional: true })]);
    expect(before!.verdict).toMatchObject({ provisional: true });
    expect(before!.verdict.provisionalReason).toContain(`chassis hv1 has stored what its agent traced through ${iso(T0 + 800)} only`);
    expect(before!.verdict.provisionalReason).toContain(`the hop into trace ${arrival}`);
    expect(before!.verdict.provisionalReason).not.toContain('chassis hv2');

    // hv1's agent stores this packet's own sender, then its mark moves past the point where a later one could still win.
    const own = await pass('hv1', sent, T0 + 850, T0 + 900);
    await mark('hv1', T0 + 2000);
    const after = await read(arrival);
    expect(after!.verdict.tunnels).toEqual([expect.objectContaining({ fromTraceId: own, toTraceId: arrival })]);
    expect(after!.verdict.tunnels[0]).not.toHaveProperty('provisional');
    expect(after!.verdict).not.toHaveProperty('provisional');
    // Read from the sender: the same verdict.
    expect((await read(own))!.verdict).toEqual(after!.verdict);
  });

  it('read from an arrival whose sending chassis never told a mark: provisional, saying so', async () => {
    await pass('hv1', sent, T0, T0 + 50);
    const arrival = await pass('hv2', arrived, T0 + 10, T0 + 60);
    await mark('hv2', T0 + 2000);
    const p = await read(arrival);
    expect(p!.verdict.tunnels[0]).toMatchObject({ toTraceId: arrival, provisional: true });
    expect(p!.verdict.provisionalReason).toContain('chassis hv1 has not told what its agent stored');
  });

  it('an arrival with no sender stored, hv1’s mark behind: the path starts at the arrival, provisional naming hv1 and saying no sender was found; once the mark passed the arrival’s end plus the skew: the one-chassis answer, settled', async () => {
    const api = { LIVETRACE_ROLE: 'api' as const };
    // hv2 stored this packet's arrival (T0 .. T0 + 50); hv1's agent has not stored its sender yet.
    const arrival = await pass('hv2', arrived, T0, T0 + 50);
    await mark('hv2', T0 + 2000);
    await mark('hv1', T0 - 100);
    const before = await read(arrival, api);
    expect(before!.verdict.tunnels).toEqual([]);
    expect(before!.segments.map((s) => s.chassis)).toEqual(['hv2']);
    expect(before!.verdict).toMatchObject({ provisional: true, chassis: 'hv2' });
    expect(before!.verdict.provisionalReason).toContain(`chassis hv1 has stored what its agent traced through ${iso(T0 - 100)} only`);
    expect(before!.verdict.provisionalReason).toContain(`trace ${arrival} arrived through a tunnel from ${ENCAP.hv1} and no sender of it is stored`);
    expect(before!.verdict.provisionalReason).toContain(`until that mark passes ${iso(T0 + 1050)}`);
    expect(before!.verdict.provisionalReason).not.toContain('chassis hv2');

    // A mark at the point itself is not past it.
    await mark('hv1', T0 + 1050);
    expect((await read(arrival, api))!.verdict).toMatchObject({ provisional: true });
    // Past it: no sender can be stored that the link would pick; the answer is the arrival's own path.
    await mark('hv1', T0 + 1051);
    expect(await read(arrival, api)).toBeUndefined();
  });

  it('an arrival with no sender stored, its sending chassis never told a mark: provisional, saying so', async () => {
    const arrival = await pass('hv2', arrived, T0, T0 + 50);
    const p = await read(arrival, { LIVETRACE_ROLE: 'api' });
    expect(p!.verdict).toMatchObject({ provisional: true, tunnels: [] });
    expect(p!.verdict.provisionalReason).toContain('chassis hv1 has not told what its agent stored');
  });

  it('an arrival with no sender stored, from an IP the southbound names no chassis for: provisional, the sending chassis unknown', async () => {
    const arrival = await pass('hv2', arrived, T0, T0 + 50);
    const p = await read(arrival, { LIVETRACE_ROLE: 'api' }, {});
    expect(p!.verdict).toMatchObject({ provisional: true });
    expect(p!.verdict.provisionalReason).toContain('the sending chassis (unknown for this tunnel) has not told what its agent stored');
  });

  // A chassis deleted after it sent, or one that never told a mark, kept the answer provisional for
  // good: a week later the path still said "may still change". Past the silent bound after the
  // hop's point (the reader's clock), it settles, saying without whom. Packets a year back settle,
  // ones sent now do not.
  describe('a chassis unknown or silent past LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS', () => {
    const bounded = { LIVETRACE_ROLE: 'api' as const, LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS: 24 };
    const OLD = Date.parse('2025-12-07T03:00:00.000Z');

    it('an old arrival from an IP the southbound names no chassis for: settled, the reason saying the sending chassis was unknown', async () => {
      const arrival = await pass('hv2', arrived, OLD, OLD + 50);
      const p = await read(arrival, bounded, {});
      expect(p!.verdict).not.toHaveProperty('provisional');
      expect(p!.verdict.settledReason).toContain('the sending chassis (unknown for this tunnel) has not told what its agent stored, unknown for more than 24 h');
      // What happened, not what may still: the path starts at that arrival, and stays so.
      expect(p!.verdict.settledReason).toContain(
        `trace ${arrival} arrived through a tunnel from ${ENCAP.hv1} and no sender of it is stored: the path starts at that arrival, settled without it: a sender stored later is linked when the path is read again`,
      );
      expect(p!.verdict.settledReason).not.toContain('may still');
      // Named by its tunnel IP: no chassis is known for it (what the CLI and the page name it by).
      expect(p!.verdict.settledWithout).toEqual([ENCAP.hv1]);
    });

    it('an old hop to a receiver that never told a mark: settled, saying it was silent; one sent now: still provisional', async () => {
      await pass('hv2', arrived, OLD, OLD + 50);
      const old = await pass('hv1', sent, OLD + 10, OLD + 60);
      const p = await read(old, bounded);
      expect(p!.verdict.tunnels[0]).toMatchObject({ remoteChassis: 'hv2', toTraceId: expect.any(Number) });
      expect(p!.verdict.tunnels[0]).not.toHaveProperty('provisional');
      expect(p!.verdict).not.toHaveProperty('provisional');
      expect(p!.verdict.settledReason).toContain('chassis hv2 has not told what its agent stored, silent for more than 24 h');
      expect(p!.verdict.settledReason).toMatch(new RegExp(`: the hop from trace ${old} was settled without it: an arrival stored later is linked when the path is read again$`));
      expect(p!.verdict.settledReason).not.toContain('may still');
      expect(p!.verdict.settledWithout).toEqual(['hv2']);
      // The hop itself says whom it was settled without (what the CLI and the page mark it by).
      expect(p!.verdict.tunnels[0].settledWithout).toEqual(['hv2']);

      const now = Date.now();
      await pass('hv2', arrived, now, now + 50);
      const fresh = await pass('hv1', sent, now + 10, now + 60);
      const q = await read(fresh, bounded);
      expect(q!.verdict).toMatchObject({ provisional: true });
      expect(q!.verdict).not.toHaveProperty('settledReason');
      expect(q!.verdict).not.toHaveProperty('settledWithout');
      expect(q!.verdict.tunnels[0]).toMatchObject({ provisional: true });
      expect(q!.verdict.tunnels[0]).not.toHaveProperty('settledWithout');
    });

    it('read from an old arrival whose sending chassis never told a mark: the hop into it settled without hv1, the receiver past it', async () => {
      const sender = await pass('hv1', sent, OLD, OLD + 50);
      const arrival = await pass('hv2', arrived, OLD + 10, OLD + 60);
      await mark('hv2', OLD + 5000);
      const p = await read(arrival, bounded);
      expect(p!.verdict.tunnels).toEqual([expect.objectContaining({ fromTraceId: sender, toTraceId: arrival, settledWithout: ['hv1'] })]);
      expect(p!.verdict.tunnels[0]).not.toHaveProperty('provisional');
      expect(p!.verdict).toMatchObject({ settledWithout: ['hv1'] });
      expect(p!.verdict.settledReason).toContain(`the hop into trace ${arrival} was settled without it: a sender stored later is linked when the path is read again`);
    });

    // Settled is not final: a path is built when it is read, so the silent chassis's pass, shipped
    // late (its spool back after the bound), is linked at the next read; the reason must not say otherwise.
    it('an old arrival settled without its silent sender: a sender stored later is linked at the next read, as the reason says', async () => {
      const arrival = await pass('hv2', arrived, OLD + 10, OLD + 60);
      await mark('hv2', OLD + 5000);
      const p = await read(arrival, bounded);
      expect(p!.verdict).toMatchObject({ settledWithout: ['hv1'] });
      expect(p!.verdict.tunnels).toEqual([]);
      const reason = p!.verdict.settledReason!;

      const sender = await pass('hv1', sent, OLD, OLD + 50);
      const q = await read(arrival, bounded);
      expect(q!.verdict.tunnels).toEqual([expect.objectContaining({ fromTraceId: sender, toTraceId: arrival })]);
      expect(reason).not.toMatch(/would not (start at|be linked)/);
      expect(reason).toContain('a sender stored later is linked when the path is read again');
    });

    it('an old hop whose receiver told a mark behind it and nothing since: settled, saying so', async () => {
      await pass('hv2', arrived, OLD, OLD + 50);
      const sender = await pass('hv1', sent, OLD + 10, OLD + 60);
      await mark('hv2', OLD - 1000);
      const p = await read(sender, bounded);
      expect(p!.verdict).not.toHaveProperty('provisional');
      expect(p!.verdict.settledReason).toContain(`chassis hv2 has stored what its agent traced through ${iso(OLD - 1000)} only, silent for more than 24 h`);
    });

    it('the bound 0: waited for for good, as before', async () => {
      const arrival = await pass('hv2', arrived, OLD, OLD + 50);
      const p = await read(arrival, { ...bounded, LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS: 0 }, {});
      expect(p!.verdict).toMatchObject({ provisional: true });
      expect(p!.verdict).not.toHaveProperty('settledReason');
    });
  });

  it('one chassis (role all, an arrival from a chassis this store knows nothing of): the path as before, nothing provisional', async () => {
    const arrival = await pass('hv2', arrived, T0, T0 + 50);
    expect(await read(arrival)).toBeUndefined();
    expect(await read(arrival, {}, {})).toBeUndefined();
  });

  it('a receiver that never told a mark: provisional, saying so', async () => {
    await pass('hv2', arrived, T0, T0 + 50);
    const sender = await pass('hv1', sent, T0 + 10, T0 + 60);
    const p = await read(sender);
    expect(p!.verdict.tunnels[0]).toMatchObject({ toTraceId: expect.any(Number), provisional: true });
    expect(p!.verdict.provisionalReason).toContain('chassis hv2 has not told what its agent stored');
  });

  it('a mark told late does not move it back', async () => {
    await mark('hv2', T0 + 1500);
    await mark('hv2', T0 + 1000);
    expect(await new PathStore({ db }).markOf('hv2')).toBe(iso(T0 + 1500));
  });

  it('one chassis (role all, a tunnel to a chassis this store knows nothing of): the path as before, nothing provisional', async () => {
    const sender = await pass('hv1', sent, T0, T0 + 50);
    expect(await read(sender)).toBeUndefined();
  });
});
