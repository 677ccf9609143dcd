// A session's counters as GET /trace-sessions reads them, on a real migrated SQLite file with the
// app's store (writer spanning turns, read-only connection): what the tracer counted before the
// read is in the answer, whoever's write was under way; a trace stored after its session ended
// still counts; a session new to this chassis is announced as created (its includeExisting runs)
// however late the chassis's first poll; the counters stay under the name they were taken up with.
// The replicas are a stand-in: only the chassis name and whether the local OVS database synced.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../../src/storage/data-source.options';
import { StoreService } from '../../../src/storage/store.service';
import type { ReplicasService } from '../../../src/replicas/replicas.service';
import { emptyStats, TraceSessionJson, TraceSessionStore } from '../../../src/trace-sessions/trace-session-store';
import { ActiveSession, TraceSessionsService } from '../../../src/trace-sessions/trace-sessions.service';
import { parseKey } from '../../../src/ovs/odp-key';
import { testConfig } from '../../support/app';
import { waitFor } from '../../support/wait';

interface Chassis {
  name?: string;
  synced: boolean;
}

async function open(chassis: Chassis, env: Record<string, string> = {}) {
  const file = join(mkdtempSync(join(tmpdir(), 'livetrace-sessions-')), 'db.sqlite');
  const ds = new DataSource({ ...dataSourceOptions(file), logging: false });
  await ds.initialize();
  await ds.runMigrations();
  const cfg = testConfig({ LIVETRACE_DB: file, ...env });
  const store = new StoreService(ds, null, cfg);
  const sessions = new TraceSessionStore(store);
  const replicas = { chassisName: () => chassis.name, status: () => ({ synced: chassis.synced }), model: { generation: 1 } } as unknown as ReplicasService;
  const events: Array<[string, number]> = [];
  const services: TraceSessionsService[] = [];
  const service = () => {
    const svc = new TraceSessionsService(cfg, store, sessions, replicas);
    svc.on('created', (s) => events.push(['created', s.json.id]));
    svc.on('reloaded', (s) => events.push(['reloaded', s.json.id]));
    services.push(svc);
    return svc;
  };
  const svc = service();
  /**
   * The agent killed (nothing more of it runs: no timer, no last counter write) and started again
   * on the same database: a new service that polls at its bootstrap.
   */
  const restart = async (killed: TraceSessionsService) => {
    clearInterval((killed as unknown as { timer: NodeJS.Timeout }).timer);
    services.splice(services.indexOf(killed), 1);
    const next = service();
    await next.onApplicationBootstrap();
    return next;
  };
  /** A session as an api instance (or another agent) writes it, with the counter rows of those that took it up. */
  const insert = (over: Partial<TraceSessionJson> = {}, rows: Record<string, number> = {}) =>
    store.writer.submit((tx) => {
      const id = sessions.insert(tx, {
        chassis: 'api-1', createdAt: new Date().toISOString(), bridge: 'br-int', filter: null, logicalPort: 'lsp1', maxTraces: null,
        durationSeconds: null, includeExisting: true, crossCheck: false, expiresAt: null, onChassis: null, state: 'active', endedAt: null,
        stats: emptyStats(), perChassis: {}, ...over,
      });
      for (const [c, stored] of Object.entries(rows)) sessions.saveStats(tx, id, c, { ...emptyStats(), selected: stored, traced: stored, stored });
      return id;
    });
  const close = async () => {
    for (const svc of services) await svc.beforeApplicationShutdown();
    await store.beforeApplicationShutdown();
    await store.onApplicationShutdown();
    await ds.destroy();
  };
  return { svc, store, insert, events, restart, close };
}

/** What a trace job counts for a pass it traced and stored. */
const tracedAndStored = (svc: TraceSessionsService, s: ActiveSession) => {
  svc.count(s, 'selected');
  svc.count(s, 'traced');
  svc.count(s, 'stored');
};

describe('trace session counters', () => {
  let env: Awaited<ReturnType<typeof open>> | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it('a GET while the timer’s counter write is under way answers what was counted before it', async () => {
    env = await open({ name: 'hv1', synced: true });
    const { svc, insert } = env;
    const id = await insert();
    await svc.onApplicationBootstrap();
    const s = svc.active.get(id)!;
    await svc.flush(); // the take-up's row, all zeros (what CI's GET answered)
    for (let i = 0; i < 6; i++) tracedAndStored(svc, s);
    // The housekeeping timer's flush takes these counts and submits them; the GET comes before its commit.
    const timers = svc.flush();
    const answer = await svc.get(id);
    await timers;
    expect(answer.perChassis.hv1).toMatchObject({ selected: 6, traced: 6, stored: 6 });
    expect(answer.stats).toMatchObject({ selected: 6, traced: 6, stored: 6 });
  });

  it('a trace stored after its session was stopped still counts', async () => {
    env = await open({ name: 'hv1', synced: true });
    const { svc, insert } = env;
    const id = await insert();
    await svc.onApplicationBootstrap();
    const s = svc.active.get(id)!;
    svc.count(s, 'selected');
    svc.count(s, 'traced');
    // Stopped while the pass's store was in flight: the job counts on the session it was given.
    expect((await svc.stop(id)).perChassis.hv1).toMatchObject({ selected: 1, traced: 1, stored: 0 });
    svc.count(s, 'stored');
    expect((await svc.get(id)).perChassis.hv1).toMatchObject({ selected: 1, traced: 1, stored: 1 });
  });

  it('a session new to this chassis is created, not reloaded, when the first poll waited for the local OVS database', async () => {
    const chassis: Chassis = { synced: false };
    env = await open(chassis);
    const { svc, insert, events } = env;
    await svc.onApplicationBootstrap(); // returns early: which chassis this is is not known yet
    const fresh = await insert();
    const earlier = await insert({ createdAt: '2026-01-01T00:00:00.000Z' }, { hv1: 4, hv2: 2 });
    chassis.name = 'hv1';
    chassis.synced = true;
    await waitFor('the sessions taken up', () => svc.active.has(fresh) && svc.active.has(earlier), 10_000);
    expect(events.sort()).toEqual([['created', fresh], ['reloaded', earlier]].sort());
    // The reload continues this chassis's counts; the other chassis's stay theirs.
    expect(svc.active.get(earlier)!.local.stored).toBe(4);
    expect(svc.active.get(earlier)!.storedElsewhere).toBe(2);
  });

  it('counters stay under the name the session was taken up with when the chassis name appears later', async () => {
    const chassis: Chassis = { synced: true };
    env = await open(chassis);
    const { svc, insert } = env;
    const id = await insert();
    await svc.onApplicationBootstrap();
    const s = svc.active.get(id)!;
    const takenUpAs = s.chassis;
    await svc.flush();
    chassis.name = 'hv1';
    tracedAndStored(svc, s);
    const answer = await svc.get(id);
    // One row, with the count: not a second row holding a copy of the first's counts.
    expect(Object.keys(answer.perChassis)).toEqual([takenUpAs]);
    expect(answer.stats.stored).toBe(1);
  });

  it('an agent killed right after taking a session up, before any counter write, reloads it on restart (no second includeExisting)', async () => {
    env = await open({ name: 'hv1', synced: true });
    const { svc, insert, events, restart } = env;
    const id = await insert();
    await svc.onApplicationBootstrap();
    expect(events).toEqual([['created', id]]);
    // The includeExisting of the take-up has stored two traces; the timer has not written them yet.
    tracedAndStored(svc, svc.active.get(id)!);
    tracedAndStored(svc, svc.active.get(id)!);
    const again = await restart(svc);
    expect(events).toEqual([['created', id], ['reloaded', id]]);
    // What the killed run had not written is lost to the counters, not traced again.
    expect(again.active.get(id)!.local.stored).toBe(0);
    expect((await again.get(id)).perChassis).toEqual({ hv1: emptyStats() });
  });

  it('a restart continues the counts this chassis wrote, from its own row', async () => {
    env = await open({ name: 'hv1', synced: true });
    const { svc, insert, events, restart } = env;
    const id = await insert({}, { hv2: 5 });
    await svc.onApplicationBootstrap();
    for (let i = 0; i < 3; i++) tracedAndStored(svc, svc.active.get(id)!);
    await svc.flush();
    const again = await restart(svc);
    expect(events).toEqual([['created', id], ['reloaded', id]]);
    expect(again.active.get(id)!.local).toMatchObject({ selected: 3, traced: 3, stored: 3 });
    expect(again.active.get(id)!.storedElsewhere).toBe(5);
  });
});

describe('a session past its duration', () => {
  let env: Awaited<ReturnType<typeof open>> | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });
  const storedState = (store: StoreService, id: number) => store.db.prepare('SELECT state, ended_at AS endedAt, expires_at AS expiresAt FROM trace_session WHERE id = ?').get(id);

  it('is answered ended by an api instance with no agent running, which writes nothing for it', async () => {
    env = await open({ name: 'api-1', synced: false }, { LIVETRACE_ROLE: 'api', LIVETRACE_MAX_SESSIONS: '1' });
    const { svc, store } = env;
    await svc.onApplicationBootstrap();
    const created = await svc.create({ bridge: 'br-int', filter: 'icmp', durationSeconds: 1 });
    expect(created).toMatchObject({ state: 'active', endedAt: null });
    await waitFor('the session answered expired', async () => (await svc.get(created.id)).state === 'expired', 10_000);
    expect(await svc.get(created.id)).toMatchObject({ state: 'expired', endedAt: created.expiresAt });
    expect((await svc.list({ state: 'active', limit: 10 })).items).toEqual([]);
    expect((await svc.list({ state: 'expired', limit: 10 })).items.map((x) => x.id)).toEqual([created.id]);
    // Stopping it changes nothing: it ended when its time was over.
    expect(await svc.stop(created.id)).toMatchObject({ state: 'expired', endedAt: created.expiresAt });
    expect(storedState(store, created.id)).toEqual({ state: 'active', endedAt: null, expiresAt: created.expiresAt });
    // It no longer holds a place under LIVETRACE_MAX_SESSIONS=1.
    await expect(svc.create({ bridge: 'br-int', filter: 'icmp' })).resolves.toMatchObject({ state: 'active' });
  }, 20_000);

  it('is not taken up by an agent that comes after its expiry, which stores the end the api answered', async () => {
    env = await open({ name: 'hv1', synced: true });
    const { svc, store, insert, events } = env;
    const now = Date.now();
    const id = await insert({ createdAt: new Date(now - 2000).toISOString(), durationSeconds: 1, expiresAt: new Date(now - 1000).toISOString() });
    const answered = await svc.get(id);
    expect(answered).toMatchObject({ state: 'expired', endedAt: answered.expiresAt });
    await svc.onApplicationBootstrap();
    expect(events).toEqual([]);
    expect(svc.active.size).toBe(0);
    expect(storedState(store, id)).toEqual({ state: 'expired', endedAt: answered.expiresAt, expiresAt: answered.expiresAt });
    expect(await svc.get(id)).toEqual(answered);
  });

  it('ends as expired at its expiry whoever ends it later (here an agent reaching maxTraces)', async () => {
    env = await open({ name: 'hv1', synced: true });
    const { svc, store, insert } = env;
    const id = await insert({ maxTraces: 1, durationSeconds: 1, expiresAt: new Date(Date.now() + 60_000).toISOString() });
    await svc.onApplicationBootstrap();
    const s = svc.active.get(id)!;
    // The agent's own clock passes the expiry before its housekeeping looks: the write that ends it says expired.
    const past = new Date(Date.now() - 1000).toISOString();
    await store.writer.submit((tx) => tx.stmt('UPDATE trace_session SET expires_at = ? WHERE id = ?').run(past, id));
    s.json.expiresAt = past;
    tracedAndStored(svc, s);
    await waitFor('the end stored', () => (storedState(store, id) as { state: string }).state !== 'active', 10_000);
    expect(storedState(store, id)).toEqual({ state: 'expired', endedAt: past, expiresAt: past });
  });

  // Expiry was enforced only by the housekeeping that runs each second after the counter write and
  // the poll (and later when those are slow): until then every new flow was still selected, and
  // traced and stored past the session's end.
  it('selects no flow once past its expiry, before the housekeeping has ended it', async () => {
    env = await open({ name: 'hv1', synced: true });
    const { svc, insert } = env;
    const id = await insert({ logicalPort: null, filter: 'icmp', durationSeconds: 60, expiresAt: new Date(Date.now() + 60_000).toISOString() });
    await svc.onApplicationBootstrap();
    clearInterval((svc as unknown as { timer: NodeJS.Timeout }).timer); // no housekeeping in between
    const s = svc.active.get(id)!;
    const flow = { inPort: 'vif1', flow: { key: parseKey('recirc_id(0),in_port(vif1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)') } };
    expect(svc.select(flow, []).map((p) => p.session.json.id)).toEqual([id]);
    s.json.expiresAt = new Date(Date.now() - 1000).toISOString();
    expect(svc.select(flow, [])).toEqual([]);
  });
});
