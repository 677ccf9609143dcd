// A cross-chassis link when a look finds hundreds or thousands of candidates: a sender megaflow
// alive for a long time meets every flow the receiving chassis set up in that time, and the one that
// received its packet may be the oldest of them. The nearest fitting one must win both ways, from the
// sender (its arrival) and from the arrival (its sender); past PathStore's LINK_A_SIDE on a side of
// the reference start the look keeps the candidates whose start is nearest, not the newest. Captured debian12 lines; the other
// candidates differ only in the inner packet's Ethernet source, so only samePacket tells them apart.
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { PathBuilder } from '../../../src/paths/path-builder';
import { LINK_A_SIDE, PathStore } from '../../../src/paths/path-store';
import type { StoreWriter } from '../../../src/storage/writer';
import { CapturedFlow, capturedFlows } from '../../support/captured-multichassis';
import { allStored, oneChassis } from '../../support/cross-chassis';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import { TracedPass, tracedPasses } from '../../support/traced-pass';

const ENCAP = { hv1: '192.168.0.1', hv2: '192.168.0.2' };
const T0 = Date.parse('2026-12-05T03:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const one = (file: string, pred: (l: CapturedFlow) => boolean): CapturedFlow => capturedFlows('debian12', file).filter(pred)[0];
const sent = one('hv1.flows-m.txt', (l) => l.key.includes('dst=50:54:00:00:00:02') && l.actions.includes('tnl_push('));
const arrived = one('hv2.flows-m.txt', (l) => l.key.includes('tunnel(') && l.actions === 'vif2');
/** The same flow for another VM's packet: another Ethernet source, inside the tunnel and out. */
const otherVm = (l: CapturedFlow, n: number): CapturedFlow => ({ ...l, key: l.key.replace('eth(src=50:54:00:00:00:01', `eth(src=50:54:00:01:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`) });
/** More than the newest 256 the look read before stop 22. */
const OTHERS = 400;

/** livetrace_link_looks_bounded_total by "direction,linked". */
async function boundedLooks(metrics: MetricsService): Promise<Record<string, number>> {
  const m = await metrics.registry.getSingleMetric('livetrace_link_looks_bounded_total')!.get();
  return Object.fromEntries(m.values.map((v) => [`${v.labels.direction},${v.labels.linked}`, v.value]));
}

describe('a cross-chassis link among many candidates', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;

  beforeEach(async () => {
    ({ dir, ds, db, writer } = await openMigratedSqlite('livetrace-link-page-'));
  });
  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds, writer });
  });

  /** A traced first pass on `chassis`, alive [from, to] (not removed when `to` is null: last seen at `seen`). */
  function passes(list: Array<Omit<TracedPass, 'ufid' | 'seen'> & { seen?: number }>): Promise<number[]> {
    const pass = tracedPasses(db);
    return writer.submit((tx) => list.map((p, i) => pass(tx, { ...p, ufid: `${p.chassis}-${i}-${p.from}`, seen: p.seen ?? p.to ?? p.from })));
  }

  it('from the sender: its arrival is found behind 400 newer arrivals of other packets', async () => {
    // The sender lives an hour; its packet arrived at once; other VMs' packets arrived after, every 5 s.
    const [sender, arrival] = await passes([
      { chassis: 'hv1', l: sent, from: T0, to: null, seen: T0 + 3_600_000 },
      { chassis: 'hv2', l: arrived, from: T0 + 5, to: T0 + 60 },
    ]);
    await passes(Array.from({ length: OTHERS }, (_, n) => ({ chassis: 'hv2', l: otherVm(arrived, n), from: T0 + 10_000 + n * 5000, to: T0 + 10_050 + n * 5000 })));
    const store = new PathStore({ db });
    const builder = new PathBuilder(store);
    const path = await oneChassis(store, {}, ENCAP).extend((await builder.ofTrace(sender))!, (id) => builder.ofTrace(id));
    expect(path!.verdict.tunnels.map((t) => t.toTraceId)).toEqual([arrival]);
    expect(path!.segments.map((s) => s.chassis)).toEqual(['hv1', 'hv2']);
  });

  it('from the arrival: its sender is found behind 400 newer senders of other packets', async () => {
    // Other VMs' megaflows, all alive when the packet arrived, each started later than its sender.
    const [sender] = await passes([{ chassis: 'hv1', l: sent, from: T0, to: null, seen: T0 + 3_600_000 }]);
    await passes(Array.from({ length: OTHERS }, (_, n) => ({ chassis: 'hv1', l: otherVm(sent, n), from: T0 + 1000 + n, to: null, seen: T0 + 3_600_000 })));
    const [arrival] = await passes([{ chassis: 'hv2', l: arrived, from: T0 + 1_800_000, to: T0 + 1_800_060 }]);
    const store = new PathStore({ db });
    const builder = new PathBuilder(store);
    const path = await oneChassis(store, {}, ENCAP).extend((await builder.ofTrace(arrival))!, (id) => builder.ofTrace(id));
    expect(path!.segments.map((s) => [s.chassis, s.built.passes[0].id])).toEqual([['hv1', sender], ['hv2', arrival]]);
  });

  it(`past LINK_A_SIDE candidates after the start keeps the nearest: the sender's arrival, oldest of ${2 * LINK_A_SIDE + 200}, is still found`, async () => {
    const [sender, arrival] = await passes([
      { chassis: 'hv1', l: sent, from: T0, to: null, seen: T0 + 3_600_000 },
      { chassis: 'hv2', l: arrived, from: T0 + 5, to: T0 + 60 },
    ]);
    // And some before the sender's start (within the skew), nearest first on that side too.
    await passes(Array.from({ length: 2 * LINK_A_SIDE + 200 }, (_, n) => ({ chassis: 'hv2', l: otherVm(arrived, n), from: T0 + 10_000 + n * 500, to: T0 + 10_050 + n * 500 })));
    await passes(Array.from({ length: 3 }, (_, n) => ({ chassis: 'hv2', l: otherVm(arrived, 9000 + n), from: T0 - 300 + n * 100, to: T0 + 60 })));
    const store = new PathStore({ db });
    const sig = ['192.168.0.2|2|2|1', '192.168.0.2|2|2|*', '192.168.0.2|2|*|1', '192.168.0.2|2|*|*', '*|2|2|1', '*|2|2|*', '*|2|*|1', '*|2|*|*'];
    const look = await store.arrivals({ chassis: 'hv2', notChassis: 'hv1' }, sig, { from: iso(T0 - 1000), to: iso(T0 + 3_601_000), near: iso(T0) });
    // The three before the start, and the 2,048 nearest after it (the arrival, then the others from
    // 10 s on, 500 ms apart), returned newest first.
    const starts = look.rows.map((r) => Date.parse(r.first_seen) - T0);
    // 2,248 after the start: that side had more than it read.
    expect(look.bounded).toBe(true);
    const kept = [-300, -200, -100, 5, ...Array.from({ length: LINK_A_SIDE - 1 }, (_, n) => 10_000 + n * 500)];
    expect(starts).toEqual(kept.reverse());
    const builder = new PathBuilder(store);
    const metrics = new MetricsService();
    const path = await oneChassis(store, {}, ENCAP, metrics).extend((await builder.ofTrace(sender))!, (id) => builder.ofTrace(id));
    expect(path!.verdict.tunnels.map((t) => t.toTraceId)).toEqual([arrival]);
    // Linked nearer than where the bounded side stopped: sure, nothing on the hop, nothing counted.
    expect(look.reach).toEqual({ before: null, after: iso(T0 + 10_000 + (LINK_A_SIDE - 2) * 500) });
    expect(path!.verdict.tunnels[0]).not.toHaveProperty('lookBounded');
    expect(path!.verdict.incomplete).toBe(false);
    expect(await boundedLooks(metrics)).toEqual({});
  });

  it(`an arrival past the ${LINK_A_SIDE} nearest is not claimed absent: the hop and the reason say the look stopped at its bound, and it is counted`, async () => {
    // The packet arrived 50 min after its sender's start (a long-lived megaflow), and 2,248 other
    // VMs' arrivals started nearer that start: the look reads the nearest 2,048 and not the arrival.
    const [sender, arrival] = await passes([
      { chassis: 'hv1', l: sent, from: T0, to: null, seen: T0 + 3_600_000 },
      { chassis: 'hv2', l: arrived, from: T0 + 3_000_000, to: T0 + 3_000_060 },
    ]);
    await passes(Array.from({ length: LINK_A_SIDE + 200 }, (_, n) => ({ chassis: 'hv2', l: otherVm(arrived, n), from: T0 + 10_000 + n * 500, to: T0 + 10_050 + n * 500 })));
    const store = new PathStore({ db });
    const builder = new PathBuilder(store);
    const metrics = new MetricsService();
    const paths = oneChassis(store, {}, ENCAP, metrics);
    const path = await paths.extend((await builder.ofTrace(sender))!, (id) => builder.ofTrace(id));
    const [hop] = path!.verdict.tunnels;
    expect(hop).toMatchObject({ fromTraceId: sender, remoteChassis: 'hv2', toTraceId: null, lookBounded: true });
    expect(path!.verdict.incomplete).toBe(true);
    expect(path!.verdict.incompleteReason).toContain(`within the time window among the ${LINK_A_SIDE} that started nearest the sender's start on each side (more were alive then and were not read)`);
    expect(await boundedLooks(metrics)).toEqual({ 'arrival,no': 1 });
    // From the arrival the sender is found (one sender, no bound): the path is whole that way.
    // The sender's own look still misses it, but the arrival the path was asked for is its hop's.
    const back = await paths.extend((await builder.ofTrace(arrival))!, (id) => builder.ofTrace(id));
    expect(back!.segments.map((s) => s.chassis)).toEqual(['hv1', 'hv2']);
    expect(back!.verdict.tunnels).toEqual([expect.objectContaining({ fromTraceId: sender, toTraceId: arrival })]);
    expect(back!.verdict.tunnels[0]).not.toHaveProperty('lookBounded');
    expect(back!.verdict.incomplete).toBe(false);
    expect(await boundedLooks(metrics)).toEqual({ 'arrival,no': 1 });
  });

  it('a link found on one side while the other side stopped at its bound nearer than the pick is marked unsure', async () => {
    // The packet's arrival was first seen 3 s before its sender (the hosts' clocks differ), behind
    // 2,049 other VMs' arrivals nearer that start; the same packet again 100 s later (through the
    // same megaflow) is the only fit the look reads: linked, but not surely to the nearest.
    const [sender, early] = await passes([
      { chassis: 'hv1', l: sent, from: T0, to: null, seen: T0 + 3_600_000 },
      { chassis: 'hv2', l: arrived, from: T0 - 3000, to: T0 + 60 },
    ]);
    await passes(Array.from({ length: LINK_A_SIDE + 1 }, (_, n) => ({ chassis: 'hv2', l: otherVm(arrived, n), from: T0 - 2000 + n * 0.9, to: T0 + 60 })));
    const [late] = await passes([{ chassis: 'hv2', l: arrived, from: T0 + 100_000, to: T0 + 100_060 }]);
    const store = new PathStore({ db });
    const builder = new PathBuilder(store);
    const metrics = new MetricsService();
    const path = await oneChassis(store, { LIVETRACE_TUNNEL_SKEW_MS: 5000 }, ENCAP, metrics).extend((await builder.ofTrace(sender))!, (id) => builder.ofTrace(id));
    // Read whole, the early arrival (3 s from the start) would win over the late one (100 s).
    expect(early).toBeLessThan(late);
    expect(path!.verdict.tunnels).toEqual([expect.objectContaining({ toTraceId: late, lookBounded: true })]);
    expect(await boundedLooks(metrics)).toEqual({ 'arrival,yes': 1 });
  });

  it(`from the arrival: a sender past the ${LINK_A_SIDE} nearest is not claimed absent: the path says where its start may be wrong, and it is counted`, async () => {
    // The sender started 30 min before its packet arrived (a long-lived megaflow); 2,049 other VMs'
    // senders, all alive then, started nearer the arrival: the look reads the nearest 2,048.
    const [sender] = await passes([{ chassis: 'hv1', l: sent, from: T0, to: null, seen: T0 + 3_600_000 }]);
    await passes(Array.from({ length: LINK_A_SIDE + 1 }, (_, n) => ({ chassis: 'hv1', l: otherVm(sent, n), from: T0 + 1000 + n, to: null, seen: T0 + 3_600_000 })));
    const [arrival] = await passes([{ chassis: 'hv2', l: arrived, from: T0 + 1_800_000, to: T0 + 1_800_060 }]);
    const store = new PathStore({ db });
    const builder = new PathBuilder(store);
    const metrics = new MetricsService();
    const paths = oneChassis(store, {}, ENCAP, metrics);
    const path = await paths.extend((await builder.ofTrace(arrival))!, (id) => builder.ofTrace(id));
    // The path starts at the arrival, as it must without its sender, and says the look stopped short.
    expect(path!.segments.map((s) => [s.chassis, s.built.passes[0].id])).toEqual([['hv2', arrival]]);
    expect(path!.verdict.tunnels).toEqual([]);
    expect(path!.verdict).toMatchObject({ chassis: 'hv2', incomplete: true });
    expect(path!.verdict.incompleteReason).toBe(
      `the first pass of trace ${arrival} on hv2 arrived through a tunnel from 192.168.0.1 (chassis hv1) and no pass there that sent it is among the ${LINK_A_SIDE} that started nearest its start on each side (more were alive then and were not read)`,
    );
    expect(await boundedLooks(metrics)).toEqual({ 'sender,no': 1 });
    // From the sender, whose look is not bounded, the arrival is found: the path is whole that way.
    const ahead = await paths.extend((await builder.ofTrace(sender))!, (id) => builder.ofTrace(id));
    expect(ahead!.verdict.tunnels).toEqual([expect.objectContaining({ fromTraceId: sender, toTraceId: arrival })]);
    expect(ahead!.verdict.tunnels[0]).not.toHaveProperty('lookBounded');
    expect(ahead!.verdict.incomplete).toBe(false);
  });

  it("from the arrival: the reason is added to the arrival's own verdict, whatever it was (a tunnel on to a chassis this store does not know)", async () => {
    // hv2 sends the packet on through a tunnel to 192.168.0.9, a chassis no agent of this store is on:
    // a one-chassis service leaves that hop out, so the path has no hop and keeps its tunnel verdict.
    const onward: CapturedFlow = { ...arrived, actions: sent.actions.replace('src=192.168.0.1,dst=192.168.0.2', 'src=192.168.0.2,dst=192.168.0.9') };
    expect(onward.actions).toContain('dst=192.168.0.9');
    await passes([{ chassis: 'hv1', l: sent, from: T0, to: null, seen: T0 + 3_600_000 }]);
    await passes(Array.from({ length: LINK_A_SIDE + 1 }, (_, n) => ({ chassis: 'hv1', l: otherVm(sent, n), from: T0 + 1000 + n, to: null, seen: T0 + 3_600_000 })));
    const [arrival] = await passes([{ chassis: 'hv2', l: onward, from: T0 + 1_800_000, to: T0 + 1_800_060, verdict: { kinds: ['tunnel'], tunnels: [{ remoteIp: '192.168.0.9', chassis: null }] } }]);
    // hv1's agent has stored all it traced: no sender can come later (not provisional, provisional-hop.spec).
    allStored(db, ['hv1']);
    const store = new PathStore({ db });
    const builder = new PathBuilder(store);
    const own = (await builder.ofTrace(arrival))!;
    expect(own.verdict.kinds).toEqual(['tunnel']);
    const path = await oneChassis(store, {}, ENCAP).extend(own, (id) => builder.ofTrace(id));
    expect(path!.segments).toHaveLength(1);
    expect(path!.verdict).toEqual({ ...own.verdict, incomplete: true, incompleteReason: expect.stringMatching(/^the first pass of trace \d+ on hv2 arrived through a tunnel from 192\.168\.0\.1 \(chassis hv1\) and no pass there that sent it is among the 2048/), chassis: 'hv2', tunnels: [] });
  });

  it('from the arrival: a sender found while the other side stopped at its bound nearer than the pick marks the hop unsure', async () => {
    // Two senders of the same packet (the same megaflow key, two lifetimes): one 3 s before the
    // arrival's start, behind 2,049 other VMs' senders nearer it; one 4 s after it (the hosts' clocks
    // differ), the only fit the look reads: linked, but not surely to the nearest.
    const A = T0 + 1_800_000;
    const [early] = await passes([{ chassis: 'hv1', l: sent, from: A - 3000, to: null, seen: A + 60_000 }]);
    await passes(Array.from({ length: LINK_A_SIDE + 1 }, (_, n) => ({ chassis: 'hv1', l: otherVm(sent, n), from: A - 2000 + n * 0.9, to: null, seen: A + 60_000 })));
    const [late] = await passes([{ chassis: 'hv1', l: sent, from: A + 4000, to: null, seen: A + 60_000 }]);
    const [arrival] = await passes([{ chassis: 'hv2', l: arrived, from: A, to: A + 60 }]);
    const store = new PathStore({ db });
    const builder = new PathBuilder(store);
    const metrics = new MetricsService();
    const path = await oneChassis(store, { LIVETRACE_TUNNEL_SKEW_MS: 5000 }, ENCAP, metrics).extend((await builder.ofTrace(arrival))!, (id) => builder.ofTrace(id));
    expect(early).toBeLessThan(late);
    expect(path!.segments.map((s) => [s.chassis, s.built.passes[0].id])).toEqual([['hv1', late], ['hv2', arrival]]);
    expect(path!.verdict.tunnels).toEqual([expect.objectContaining({ fromTraceId: late, toTraceId: arrival, lookBounded: true })]);
    // Linked: the verdict is whole; the hop carries the doubt (the page and the CLI show it).
    expect(path!.verdict.incomplete).toBe(false);
    // Counted once, where it was looked; the hop's own arrival look (from `late`) is not bounded.
    expect(await boundedLooks(metrics)).toEqual({ 'sender,yes': 1 });
  });

  it(`a side of exactly ${LINK_A_SIDE} candidates is read whole; one more and it is bounded`, async () => {
    await passes(Array.from({ length: LINK_A_SIDE }, (_, n) => ({ chassis: 'hv2', l: otherVm(arrived, n), from: T0 + 10 + n, to: T0 + 60 + n })));
    const store = new PathStore({ db });
    const sig = ['192.168.0.2|2|2|1', '192.168.0.2|2|2|*', '192.168.0.2|2|*|1', '192.168.0.2|2|*|*', '*|2|2|1', '*|2|2|*', '*|2|*|1', '*|2|*|*'];
    const window = { from: iso(T0 - 1000), to: iso(T0 + 10_000), near: iso(T0) };
    const whole = await store.arrivals({ chassis: 'hv2', notChassis: 'hv1' }, sig, window);
    expect(whole.rows).toHaveLength(LINK_A_SIDE);
    expect(whole).toMatchObject({ bounded: false, reach: { before: null, after: null } });
    await passes([{ chassis: 'hv2', l: otherVm(arrived, LINK_A_SIDE), from: T0 + 10 + LINK_A_SIDE, to: T0 + 60 + LINK_A_SIDE }]);
    const more = await store.arrivals({ chassis: 'hv2', notChassis: 'hv1' }, sig, window);
    expect(more.rows).toHaveLength(LINK_A_SIDE);
    expect(more).toMatchObject({ bounded: true, reach: { before: null, after: iso(T0 + 10 + LINK_A_SIDE - 1) } });
  });

  it('candidates tied on every rule resolve as before: the newest time text, then the newer id', async () => {
    // A relayed vlog may keep more than 3 fraction digits: two arrivals of the same packet 5 ms after
    // the sender's start, apart only below the millisecond. Stop 21 read them newest text first.
    const [sender] = await passes([{ chassis: 'hv1', l: sent, from: T0, to: null, seen: T0 + 3_600_000 }]);
    const [, later] = await passes([
      { chassis: 'hv2', l: arrived, from: T0 + 5, to: T0 + 60, fromText: '2026-12-05T03:00:00.0051Z' },
      { chassis: 'hv2', l: arrived, from: T0 + 5, to: T0 + 60, fromText: '2026-12-05T03:00:00.0052Z' },
    ]);
    const store = new PathStore({ db });
    const builder = new PathBuilder(store);
    const path = await oneChassis(store, {}, ENCAP).extend((await builder.ofTrace(sender))!, (id) => builder.ofTrace(id));
    expect(path!.verdict.tunnels.map((t) => t.toTraceId)).toEqual([later]);
  });
});
