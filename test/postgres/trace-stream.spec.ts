// GET /traces/stream on an api instance over a real PostgreSQL with two writers (spools, as agents
// write them: the captured replies annotated with the captured NB/SB, through TraceStore, shipped by
// each spool's shipper). Each writer commits its own id range (its writer slot, storage/spool.ts),
// the lower slot's ids below the higher's whatever the time, so the stream must follow each slot:
// a live stream sends both writers' new traces, and a resume by the stream's last id gets what
// each committed in between, nothing twice; a resume by a plain trace id gets the other writer's
// traces from that trace's time.
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import type { StoreService } from '../../src/storage/store.service';
import { TraceStore } from '../../src/traces/trace-store';
import { STREAM_DEFAULTS, TraceStreamService } from '../../src/traces/trace-stream.service';
import { startApp } from '../support/app';
import { capturedPasses } from '../support/captured-passes';
import { pgRows, usePostgresSpools } from '../support/spool-stores';
import { waitFor } from '../support/wait';
import { readSse, SseTrace } from '../support/sse';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const SLOT = 2 ** 40;

type Event = SseTrace<{ id: number; chassis: string }>;

describe('GET /traces/stream over PostgreSQL with two writers (writer slots)', () => {
  let api: INestApplication;
  let base: string;
  let low: StoreService;
  let high: StoreService;
  let url: string;
  const passes = capturedPasses();
  let next = 0;

  /** Commits one pass (the next, or `which`) on `s` as chassis `chassis` (traced at `at`, now by default) and ships it; its trace id. */
  async function commit(s: StoreService, chassis: string, at = Date.now(), which?: number): Promise<number> {
    const { pass } = passes[which ?? next++ % passes.length];
    const traces = new TraceStore(s);
    const id = await s.writer.submit((tx) => traces.insert(tx, { trace: pass, chassis, createdAt: new Date(at).toISOString(), portUuids: new Map() }));
    await s.shipper!.synced();
    return id;
  }

  beforeAll(async () => {
    url = await spools.pg().database('stream');
    // Claimed in this order: the first writer's slot is the lowest.
    low = await spools.storeOn(url);
    api = await startApp({ LIVETRACE_DB: url, LIVETRACE_ROLE: 'api' });
    await api.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(api.getHttpServer().address() as AddressInfo).port}`;
    high = await spools.storeOn(url);
  });

  afterAll(async () => {
    await api?.close();
  });

  async function open(query: string, lastEventId?: string): Promise<{ events: Event[]; close(): Promise<void> }> {
    const ac = new AbortController();
    const res = await fetch(`${base}/traces/stream${query}`, { signal: ac.signal, headers: lastEventId ? { 'Last-Event-ID': lastEventId } : {} });
    expect(res.status).toBe(200);
    const s = readSse<Event['trace']>(res);
    await waitFor('the stream to start', () => s.comments.some((c) => c.startsWith('after trace')));
    return { events: s.events, close: async () => (ac.abort(), await s.done) };
  }

  const slotOf = (id: number) => Math.floor(id / SLOT);

  it("a live stream sends both writers' new traces, the lower slot's too, once each, oldest first per slot; a resume by its last id gets what each committed since, nothing twice", async () => {
    expect(passes.length).toBeGreaterThan(5);
    // Both slots hold traces before the stream starts: the higher one's newest is the newest of all.
    const before = [await commit(low, 'hv1'), await commit(high, 'hv2')];
    expect(slotOf(before[0])).toBeLessThan(slotOf(before[1]));
    const port = passes[next % passes.length].port;
    const all = await open('');
    const ofPort = await open(`?logical_port=${encodeURIComponent(port)}`);
    const live: number[] = [];
    for (const s of [low, high, low, high, low]) live.push(await commit(s, s === low ? 'hv1' : 'hv2'));
    await waitFor('every new trace on the live stream', () => live.every((id) => all.events.some((e) => e.trace.id === id)));
    // A few polls more: nothing twice, nothing from before the stream.
    await new Promise((r) => setTimeout(r, 1500));
    const sent = all.events.map((e) => e.trace.id);
    expect([...sent].sort((a, b) => a - b)).toEqual([...live].sort((a, b) => a - b));
    for (const slot of [slotOf(before[0]), slotOf(before[1])]) {
      const mine = sent.filter((id) => slotOf(id) === slot);
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
    // The port's stream: its traces among them, each once (the walk per slot through the port's index).
    const portIds = (await (await fetch(`${base}/traces?logical_port=${encodeURIComponent(port)}&limit=500`)).json()) as { items: Array<{ id: number }> };
    const expected = portIds.items.map((t) => t.id).filter((id) => live.includes(id));
    expect(expected.length).toBeGreaterThan(0);
    await waitFor("the port's traces on its stream", () => expected.every((id) => ofPort.events.some((e) => e.trace.id === id)));
    expect(ofPort.events.map((e) => e.trace.id).sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
    await ofPort.close();

    const position = all.events[all.events.length - 1].id;
    // The position names each slot's highest id sent.
    expect(position.split(',').map(Number)).toEqual(expect.arrayContaining([Math.max(...live.filter((id) => slotOf(id) === slotOf(before[0]))), Math.max(...live.filter((id) => slotOf(id) === slotOf(before[1])))]));
    await all.close();
    const between = [await commit(high, 'hv2'), await commit(low, 'hv1'), await commit(low, 'hv1')];
    const resumed = await open('', position);
    await waitFor('what was committed in between on the resumed stream', () => between.every((id) => resumed.events.some((e) => e.trace.id === id)));
    const after = [await commit(low, 'hv1'), await commit(high, 'hv2')];
    await waitFor('the traces committed after the resume', () => after.every((id) => resumed.events.some((e) => e.trace.id === id)));
    await new Promise((r) => setTimeout(r, 1500));
    expect(resumed.events.map((e) => e.trace.id).sort((a, b) => a - b)).toEqual([...between, ...after].sort((a, b) => a - b));
    await resumed.close();
  });

  it("a resume by a plain trace id of the higher writer gets the lower writer's traces from that trace's time, not those before", async () => {
    // Traced after everything the other test stored (ids follow trace time within a writer).
    const t = Date.now() + 60_000;
    const before = await commit(low, 'hv1', t);
    const id = await commit(high, 'hv2', t + 30_000);
    const since = [await commit(low, 'hv1', t + 31_000), await commit(high, 'hv2', t + 32_000)];
    expect(slotOf(before)).toBeLessThan(slotOf(id));
    const resumed = await open('', String(id));
    await waitFor("both writers' traces since the id's", () => since.every((x) => resumed.events.some((e) => e.trace.id === x)));
    const later = await commit(low, 'hv1', t + 33_000);
    await waitFor('a trace of the lower writer committed after the resume', () => resumed.events.some((e) => e.trace.id === later));
    await new Promise((r) => setTimeout(r, 1500));
    expect(resumed.events.map((e) => e.trace.id)).toEqual([...since, later]);
    await resumed.close();
  });

  it("a port's stream (its walk by time) sends a trace stamped long before those around it (an ingested event), once, and a resume by its position too", async () => {
    const mine = next % passes.length;
    const port = passes[mine].port;
    await commit(low, 'hv1', Date.now(), mine);
    // Which of these ids the port's list holds.
    const ofPort = async (ids: number[]) => {
      const body = (await (await fetch(`${base}/traces?logical_port=${encodeURIComponent(port)}&limit=500`)).json()) as { items: Array<{ id: number }> };
      return ids.filter((id) => body.items.some((t) => t.id === id));
    };
    const live = await open(`?logical_port=${encodeURIComponent(port)}`);
    const now = Date.now() + 120_000;
    const stored: number[] = [];
    for (let i = 0; i < passes.length; i++) stored.push(await commit(low, 'hv1', now + i * 10));
    await new Promise((r) => setTimeout(r, 1500));
    // Above the floor every walk now has, an hour earlier than all of them.
    stored.push(await commit(low, 'hv1', now - 3_600_000, mine));
    for (let i = 0; i < passes.length; i++) stored.push(await commit(i % 2 ? high : low, i % 2 ? 'hv2' : 'hv1', now + 60_000 + i));
    const expected = await ofPort(stored);
    expect(expected.length).toBeGreaterThan(1);
    await waitFor("the port's traces on its stream", () => expected.every((id) => live.events.some((e) => e.trace.id === id)));
    await new Promise((r) => setTimeout(r, 1500));
    expect(live.events.map((e) => e.trace.id).sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
    const position = live.events[live.events.length - 1].id;
    await live.close();
    const between = [await commit(low, 'hv1', now - 7_200_000, mine), await commit(high, 'hv2', now + 90_000, mine)];
    for (let i = 0; i < passes.length; i++) between.push(await commit(i % 2 ? high : low, i % 2 ? 'hv2' : 'hv1', now + 91_000 + i));
    const missed = await ofPort(between);
    const resumed = await open(`?logical_port=${encodeURIComponent(port)}`, position);
    await waitFor('what was committed in between on the resumed stream', () => missed.every((id) => resumed.events.some((e) => e.trace.id === id)));
    await new Promise((r) => setTimeout(r, 1500));
    expect(resumed.events.map((e) => e.trace.id).sort((a, b) => a - b)).toEqual([...missed].sort((a, b) => a - b));
    await resumed.close();
  });

  it('past 1,024 writer slots its ids stay short, and a resume by one on this api instance gets every slot\'s traces since, once', async () => {
    // Writers' rows as a shipper leaves them, copied in SQL from one stored trace: 1,100 slots of their own.
    const model = await commit(low, 'hv1');
    const cols = (await pgRows(url, `SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'trace' AND column_name NOT IN ('id', 'created_at') ORDER BY ordinal_position`)).map((r) => `"${r.c}"`);
    const copy = (ids: number[]) =>
      pgRows(url, `INSERT INTO trace (id, created_at, ${cols.join(', ')}) SELECT x.id, $3, ${cols.map((c) => `t.${c}`).join(', ')} FROM trace t, unnest($2::bigint[]) AS x(id) WHERE t.id = $1`, [model, ids, new Date().toISOString()]);
    const slots = Array.from({ length: 1100 }, (_, i) => 4000 + i);
    await copy(slots.map((s) => s * SLOT + 1));
    TraceStreamService.options = { ...STREAM_DEFAULTS, pollMs: 50 };
    try {
      const live = await open('');
      const first = slots.slice(0, 40).map((s) => s * SLOT + 2);
      await copy(first);
      await waitFor('the new traces on the live stream', () => first.every((id) => live.events.some((e) => e.trace.id === id)));
      expect(Math.max(...live.events.map((e) => e.id.length))).toBeLessThan(64);
      const k = 19;
      const position = live.events[k].id;
      const rest = live.events.slice(k + 1).map((e) => e.trace.id);
      await live.close();
      const later = slots.slice(500, 540).map((s) => s * SLOT + 2);
      await copy(later);
      const resumed = await open('', position);
      const expected = [...rest, ...later];
      await waitFor('what was not read and what came after, on the resumed stream', () => expected.every((id) => resumed.events.some((e) => e.trace.id === id)));
      await new Promise((r) => setTimeout(r, 1500));
      expect(resumed.events.map((e) => e.trace.id).sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
      await resumed.close();
    } finally {
      TraceStreamService.options = STREAM_DEFAULTS;
    }
  });

  it('a Last-Event-ID that is no stream position is refused, saying why', async () => {
    for (const [header, why] of [
      ['x1', /must be a trace id/],
      [`${SLOT + 1},${SLOT + 2}`, /names writer slot 1 twice/],
    ] as const) {
      const res = await fetch(`${base}/traces/stream`, { headers: { 'Last-Event-ID': header } });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { message: string; field: string };
      expect(body.field).toBe('last-event-id');
      expect(body.message).toMatch(why);
    }
  });
});
