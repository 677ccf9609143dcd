// GET /traces over PostgreSQL with three writers (three agents' spools, each in its own writer slot,
// so each its own id range: storage/spool.ts) whose traces interleave in time: a page is newest
// first by trace time across the chassis, not slot after slot by id, for the whole list and a
// port's; paging by `next` gives every trace once; a cursor from before the time order (`id:N`)
// is still taken, at its trace's time, or, when that trace is gone, from the newest of its slot below it.
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import type { StoreService } from '../../src/storage/store.service';
import { TraceStore } from '../../src/traces/trace-store';
import { startApp } from '../support/app';
import { capturedPasses } from '../support/captured-passes';
import { pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const SLOT = 2 ** 40;
const T0 = Date.parse('2026-12-05T10:00:00.000Z');

interface Item {
  id: number;
  chassis: string;
  createdAt: string;
}

/** Newest first: time, then id (the order the API promises). */
const newestFirst = (a: Item, b: Item) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.id - a.id);

describe('GET /traces over PostgreSQL with three writers: newest first by time across chassis', () => {
  let api: INestApplication;
  let base: string;
  const stored: Item[] = [];
  const passes = capturedPasses();
  let port: string;

  beforeAll(async () => {
    const url = await spools.pg().database('order');
    const writers: Array<[StoreService, string]> = [];
    for (const chassis of ['hv1', 'hv2', 'hv3']) writers.push([await spools.storeOn(url), chassis]);
    port = passes[0].port;
    // Each writer's ids rise with its own commits; the times interleave across writers, and the
    // lowest slot has the newest trace. Two traces share a time (the id decides), and one writer
    // stamps a trace older than its previous one (an ingested event's own time).
    const times = [
      [0, 5, 9, 14, 20, 13],
      [1, 4, 8, 8, 15],
      [2, 3, 10, 12],
    ];
    for (let w = 0; w < writers.length; w++) {
      const [s, chassis] = writers[w];
      const traces = new TraceStore(s);
      for (const sec of times[w]) {
        // Every third trace is the port's (on each chassis), the others any captured pass.
        const { pass } = passes[stored.length % 3 === 0 ? 0 : stored.length % passes.length];
        const createdAt = new Date(T0 + sec * 1000).toISOString();
        const id = await s.writer.submit((tx) => traces.insert(tx, { trace: pass, chassis, createdAt, portUuids: new Map() }));
        stored.push({ id, chassis, createdAt });
      }
      await s.shipper!.synced();
    }
    expect(new Set(stored.map((t) => Math.floor(t.id / SLOT))).size).toBe(3);
    api = await startApp({ LIVETRACE_DB: url, LIVETRACE_ROLE: 'api' });
    await api.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(api.getHttpServer().address() as AddressInfo).port}`;
    // Every port row carries its trace's time (the port's list walks it).
    expect(await pgRows(url, 'SELECT COUNT(*)::int AS n FROM trace_port p JOIN trace t ON t.id = p.trace_id WHERE p.created_at <> t.created_at')).toEqual([{ n: 0 }]);
  });

  afterAll(async () => {
    await api?.close();
  });

  async function get(query: string): Promise<{ items: Item[]; next: string | null }> {
    const res = await fetch(`${base}/traces${query}`);
    expect(res.status).toBe(200);
    return (await res.json()) as { items: Item[]; next: string | null };
  }

  /** Every page by `next`, `limit` a page. */
  async function walk(filter: string, limit: number): Promise<Item[][]> {
    const pages: Item[][] = [];
    let cursor = '';
    for (;;) {
      const p = await get(`?limit=${limit}${filter}${cursor}`);
      pages.push(p.items);
      if (!p.next || pages.length > 50) return pages;
      cursor = `&cursor=${p.next}`;
    }
  }

  const pick = (t: Item) => ({ id: t.id, chassis: t.chassis, createdAt: t.createdAt });

  it('lists every trace newest first by time across the three writers, the whole list and paged (nothing twice, nothing missed)', async () => {
    const expected = [...stored].sort(newestFirst);
    // Not the id order: the lowest slot holds the newest trace.
    expect(expected.map((t) => t.id)).not.toEqual([...stored].map((t) => t.id).sort((a, b) => b - a));
    expect((await get('?limit=500')).items.map(pick)).toEqual(expected);
    for (const limit of [1, 2, 4]) expect((await walk('', limit)).flat().map(pick)).toEqual(expected);
  });

  it("lists a port's traces and a chassis's the same way", async () => {
    const ofPort = (await get(`?logical_port=${encodeURIComponent(port)}&limit=500`)).items;
    expect(ofPort.length).toBeGreaterThan(3);
    expect(new Set(ofPort.map((t) => t.chassis)).size).toBe(3);
    expect(ofPort.map(pick)).toEqual([...ofPort].sort(newestFirst).map(pick));
    expect((await walk(`&logical_port=${encodeURIComponent(port)}`, 2)).flat().map(pick)).toEqual(ofPort.map(pick));
    const since = new Date(T0 + 4000).toISOString();
    const until = new Date(T0 + 13_000).toISOString();
    const window = stored.filter((t) => t.createdAt >= since && t.createdAt <= until).sort(newestFirst);
    expect((await walk(`&since=${since}&until=${until}`, 2)).flat().map(pick)).toEqual(window);
    const hv2 = stored.filter((t) => t.chassis === 'hv2').sort(newestFirst);
    expect((await walk('&chassis=hv2', 2)).flat().map(pick)).toEqual(hv2);
  });

  it('takes a cursor from before the time order (id:N): below that trace, or from the newest of its slot below it once it is gone', async () => {
    const expected = [...stored].sort(newestFirst);
    const old = (id: number) => Buffer.from(`id:${id}`).toString('base64url');
    const at = 3;
    const rest = (await get(`?limit=500&cursor=${old(expected[at].id)}`)).items.map(pick);
    expect(rest).toEqual(expected.slice(at + 1));
    // An id no trace has (gone): its slot's newest trace below it comes first, that trace included.
    const slotTop = Math.max(...stored.filter((t) => Math.floor(t.id / SLOT) === 1).map((t) => t.id));
    const below = expected.findIndex((t) => t.id === slotTop);
    expect((await get(`?limit=500&cursor=${old(slotTop + 1)}`)).items.map(pick)).toEqual(expected.slice(below));
  });

  it('refuses a cursor that is no position, naming what is wrong', async () => {
    const cursor = (text: string) => Buffer.from(text).toString('base64url');
    for (const [bad, why] of [
      ['***', /not base64url/],
      [cursor('x:1'), /neither a trace position nor an id/],
      [cursor('at:yesterday;id:5'), /its time must be an RFC 3339 time/],
      [cursor('at:2026-12-05T10:00:00.000Z;id:0'), /its trace id must be a positive integer/],
      [cursor('id:99999999999999999'), /its trace id must be a positive integer/],
    ] as const) {
      const res = await fetch(`${base}/traces?cursor=${encodeURIComponent(bad)}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { message: string; field: string };
      expect(body.field).toBe('cursor');
      expect(body.message).toMatch(why);
    }
  });
});
