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
import { startApp } from '../support/app';
import { capturedPasses } from '../support/captured-passes';
import { usePostgresSpools } from '../support/spool-stores';
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
  const passes = capturedPasses();
  let next = 0;

  /** Commits one pass on `s` as chassis `chassis` (traced at `at`, now by default) and ships it; its trace id. */
  async function commit(s: StoreService, chassis: string, at = Date.now()): Promise<number> {
    const { pass } = passes[next++ % passes.length];
    const traces = new TraceStore(s);
    const id = await s.writer.submit((tx) => traces.insert(tx, { trace: pass, chassis, createdAt: new Date(at).toISOString(), portUuids: new Map() }));
    await s.shipper!.synced();
    return id;
  }

  beforeAll(async () => {
    const url = await spools.pg().database('stream');
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
