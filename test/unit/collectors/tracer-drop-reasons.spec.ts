// Why the tracer dropped a flow a session selected: its own queue was full (LIVETRACE_TRACE_QUEUE:
// this process traces slower than flows come) or the agent's spool was (LIVETRACE_SPOOL_MAX_CHANGES:
// PostgreSQL away or too slow). Two causes with two different remedies were one `dropped` in a
// session's counters, and /health said nothing of the first. Each is now counted by its reason in
// the session's stats (`droppedBy`, `dropped` the total), /health (vswitchd's `traceDropped`) and
// GET /metrics (livetrace_traces_total{outcome}), which must stay valid 0.0.4 text.
// A spool-full drop was also counted apart by the tracer, the shipper and the metric, and /health
// gave it twice (traceDropped.spoolFull and the central part's `dropped`): its one count is now the
// shipper's, which /health gives once and livetrace_ship_dropped_total repeats only as an older name.
// And a pass traced, then not stored because the session could take no more by then (expired while
// ofproto/trace answered): counted as traced, though neither stored, nor notSelected, nor failed, so
// traced = stored + notSelected + failed.store did not add up. It is a skip by its reason, not traced.
// Real session service, trace queue, SQLite store, TracerMetrics on a real registry, health
// indicator; stand-ins: the poller's installed flows, ofproto/trace, the path recorder, vswitchd's
// status and, for the spool, the shipper's state.
import { HealthIndicatorService } from '@nestjs/terminus';
import { CentralHealthIndicator } from '../../../src/health/central.health';
import type { StoreService } from '../../../src/storage/store.service';
import type { ShipperState } from '../../../src/storage/shipper';
import type { FlowTracer } from '../../../src/collectors/flow-tracer';
import { TracerMetrics } from '../../../src/collectors/tracer-metrics';
import { VswitchdHealthIndicator } from '../../../src/collectors/vswitchd.health';
import type { VswitchdService } from '../../../src/collectors/vswitchd.service';
import { MetricsService } from '../../../src/metrics/metrics.service';
import type { PathRecorder } from '../../../src/paths';
import type { SessionStats } from '../../../src/trace-sessions/trace-session-store';
import { parsePromText } from '../../support/prom-text';
import { installedFlow as flow, sessionTracer } from '../../support/session-tracer';
import { waitFor } from '../../support/wait';

const sum = (r: Record<string, number> | undefined) => Object.values(r ?? {}).reduce((a, b) => a + b, 0);
const ok = { kind: 'ok', trace: { ports: [], verdict: { recircIds: [] } }, consistent: true, methodReason: 'trace' };

describe('the tracer’s drops, by reason', () => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(() => close());

  /** hv1's tracer over `n` installed flows, a real registry; ofproto/trace answers once `gate` resolves. */
  async function agent(n: number, env: Record<string, string>, gate: Promise<void> = Promise.resolve()) {
    const metrics = new MetricsService();
    const flowTracer = { traceFlow: async () => (await gate, ok) } as unknown as FlowTracer;
    let stored = 0;
    const paths = { record: async () => ({ traceId: ++stored, pathId: 1, complete: null }), forgetLater: () => undefined } as unknown as PathRecorder;
    const a = await sessionTracer('livetrace-drop-reasons-', Array.from({ length: n }, (_, i) => flow(i)), { flowTracer, paths, metrics: (store) => new TracerMetrics(metrics, store), env });
    close = a.close;
    const status = { pid: 1, lastError: null } as unknown as ReturnType<VswitchdService['status']>;
    const vswitchd = new VswitchdHealthIndicator(a.cfg, { status: () => status } as unknown as VswitchdService, a.poller as never, a.tracer, new HealthIndicatorService());
    const scrape = async () => parsePromText(await metrics.exposition()).find((f) => f.name === 'livetrace_traces_total')!.samples;
    const outcome = async (o: string) => (await scrape()).find((s) => s.labels.outcome === o)?.value ?? 0;
    return { ...a, health: () => vswitchd.check().vswitchd as Record<string, unknown>, outcome, metrics, scrape };
  }

  /** Every number /health gives under a name of drops (traceDropped's causes, any other `dropped`), by its path. */
  function dropNumbers(v: unknown, path = ''): Array<[string, number]> {
    if (typeof v === 'number') return /dropped/i.test(path) ? [[path, v]] : [];
    if (!v || typeof v !== 'object') return [];
    return Object.entries(v).flatMap(([k, x]) => dropNumbers(x, path ? `${path}.${k}` : k));
  }

  it('a full trace queue: dropped for queue_full, in the session, /health and /metrics', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const a = await agent(10, { LIVETRACE_TRACE_QUEUE: '2' }, gate);
    const id = await a.newSession({ includeExisting: true });
    await a.sessions.onApplicationBootstrap(); // includeExisting: 10 flows, one tracing, 2 queued, 7 dropped
    await waitFor('the selection done', async () => ((await a.sessions.get(id)).stats.selected === 10 ? true : undefined), 10_000);
    open();
    await waitFor('the queue drained', async () => (a.tracer.queueDepth === 0 && (await a.sessions.get(id)).stats.stored === 3 ? true : undefined), 10_000);

    const s = (await a.sessions.get(id)).stats as SessionStats & { droppedBy?: Record<string, number> };
    expect(s).toMatchObject({ selected: 10, traced: 3, stored: 3, dropped: 7 });
    expect(s.droppedBy).toEqual({ queue_full: 7 });
    expect(s.selected).toBe(s.traced + s.dropped + sum(s.failed) + sum(s.skipped));
    expect(a.health().traceDropped).toEqual({ queueFull: 7, spoolFull: 0 });
    expect(await a.outcome('dropped_queue_full')).toBe(7);
    expect(await a.outcome('dropped_spool_full')).toBe(0);
  });

  it('a full spool: dropped for spool_full, in the session, /health and /metrics', async () => {
    const a = await agent(4, {});
    // The shipper's state as the spool's bound sets it (storage/shipper.ts), PostgreSQL away.
    const state = { full: true, dropped: 0 };
    Object.defineProperty(a.store, 'shipper', { value: { state, pullSessions: async () => undefined, synced: async () => undefined, stop: async () => undefined } });
    const id = await a.newSession({ includeExisting: true });
    await a.sessions.onApplicationBootstrap();
    await waitFor('the selection done', async () => ((await a.sessions.get(id)).stats.selected === 4 ? true : undefined), 10_000);

    const s = (await a.sessions.get(id)).stats as SessionStats & { droppedBy?: Record<string, number> };
    expect(s).toMatchObject({ selected: 4, traced: 0, stored: 0, dropped: 4 });
    expect(s.droppedBy).toEqual({ spool_full: 4 });
    expect(state.dropped).toBe(4);
    expect(a.health().traceDropped).toEqual({ queueFull: 0, spoolFull: 4 });
    expect(await a.outcome('dropped_spool_full')).toBe(4);
    expect(await a.outcome('dropped_queue_full')).toBe(0);
  });

  it('a full spool: each drop counted once, in /health (vswitchd and central parts together) and /metrics', async () => {
    const a = await agent(4, {});
    // An agent with PostgreSQL away, its spool full (storage/shipper.ts's state as the bound sets it).
    const state: ShipperState = { up: false, backlog: 1000, full: true, dropped: 0, shippedRows: 0, batches: 0, lastShippedAt: null, lastError: 'connect ECONNREFUSED', since: new Date().toISOString(), reshipFailures: 0, reshipError: null };
    const shipper = { state, pullSessions: async () => undefined, synced: async () => undefined, stop: async () => undefined, noteDown: () => undefined };
    Object.defineProperty(a.store, 'shipper', { value: shipper });
    const central = new CentralHealthIndicator({ shipper, central: { url: 'postgres://pg/livetrace', slot: 1 } } as unknown as StoreService, new HealthIndicatorService(), a.metrics);
    const id = await a.newSession({ includeExisting: true });
    await a.sessions.onApplicationBootstrap();
    await waitFor('the selection done', async () => ((await a.sessions.get(id)).stats.selected === 4 ? true : undefined), 10_000);
    expect((await a.sessions.get(id)).stats.dropped).toBe(4);

    const health = { vswitchd: a.health(), central: (await central.check()).central };
    // One number a cause: summed, they are every drop. (Before, the central part's `dropped` repeated spoolFull: 8.)
    const numbers = dropNumbers(health);
    expect(numbers).toEqual([['vswitchd.traceDropped.queueFull', 0], ['vswitchd.traceDropped.spoolFull', 4]]);
    expect(numbers.reduce((n, [, v]) => n + v, 0)).toBe(4);
    // Every drop is sum(livetrace_traces_total{outcome=~"dropped_.*"}) (README); livetrace_ship_dropped_total names the same flows.
    expect((await a.scrape()).filter((x) => x.labels.outcome?.startsWith('dropped_')).reduce((n, x) => n + x.value, 0)).toBe(4);
    const ship = parsePromText(await a.metrics.exposition()).find((f) => f.name === 'livetrace_ship_dropped_total')!.samples;
    expect(ship.map((x) => x.value)).toEqual([4]);
  });

  it('a pass traced after its session expired: skipped (expired), not traced', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const a = await agent(1, {}, gate);
    const id = await a.newSession({ includeExisting: true, expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    await a.sessions.onApplicationBootstrap();
    await waitFor('the flow taken by the tracer', async () => ((await a.sessions.get(id)).stats.selected === 1 && a.tracer.queueDepth === 0 ? true : undefined), 10_000);
    // ofproto/trace answers after the session's end: its expiry passed meanwhile (an hour here, told
    // to the session as its housekeeping reads it, so no test waits on the clock).
    a.sessions.active.get(id)!.json.expiresAt = new Date(Date.now() - 1000).toISOString();
    open();
    await waitFor('the pass settled', async () => {
      const s = (await a.sessions.get(id)).stats;
      return s.traced + sum(s.skipped) === 1 ? s : undefined;
    }, 10_000);

    const s = (await a.sessions.get(id)).stats;
    expect(s).toMatchObject({ selected: 1, traced: 0, stored: 0, dropped: 0, skipped: { expired: 1 } });
    expect(s.traced).toBe(s.stored + s.notSelected + (s.failed.store ?? 0));
    expect(await a.outcome('skipped_session_ended')).toBe(1);
  });
});
