// Issue 18 finding 1: every on-demand cycle() used to leave one more poll loop running for good
// (cycle() rescheduled in `finally`, schedule() overwrote the timer without clearing it). Counted in
// dumps asked of a fake vswitchd over simulated time: the same before and after many on-demand calls.
import { EventEmitter } from 'node:events';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { PollerService } from '../../../src/collectors/poller.service';
import { loadConfig } from '../../../src/config/config';
import { MetricsService } from '../../../src/metrics/metrics.service';

function poller(enabled = true) {
  const config = loadConfig({ LIVETRACE_DB: '/nonexistent/x.sqlite', LIVETRACE_POLL_INTERVAL_MS: '1000', LIVETRACE_POLLER: String(enabled) });
  let dumps = 0;
  const vswitchd = Object.assign(new EventEmitter(), {
    currentPid: 1,
    callServed: async () => {
      dumps++;
      return { text: '', pid: 1 };
    },
    invalidateDatapath: () => undefined,
  });
  const store = { writer: { submit: async () => undefined } };
  const flows = { open: () => [] };
  const replicas = { chassisName: () => 'hv1' };
  const metrics = new MetricsService();
  const p = new PollerService(config, vswitchd as never, store as never, flows as never, replicas as never, metrics, new LifetimeSpoolBound(store as never, metrics));
  return { p, dumps: () => dumps };
}

jest.setTimeout(60_000);

describe('poller timer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('keeps one poll loop however many cycles are run from outside', async () => {
    const { p, dumps } = poller();
    p.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(10_500);
    const before = dumps(); // the loop alone: one dump a second
    const calls = Number(process.env.POLLER_TIMER_CALLS ?? 200);
    for (let i = 0; i < calls; i++) await p.cycle();
    const afterCalls = dumps();
    expect(afterCalls - before).toBe(calls);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(dumps() - afterCalls).toBe(before - 1); // the same ten cycles in ten seconds, not ~10,000
    await p.onApplicationShutdown();
  });

  it('shares one dump between callers that come while a cycle runs', async () => {
    const { p, dumps } = poller(false);
    await Promise.all(Array.from({ length: 50 }, () => p.cycle()));
    expect(dumps()).toBe(1);
  });

  it('starts no loop from an on-demand cycle when the poller is disabled', async () => {
    const { p, dumps } = poller(false);
    await p.cycle();
    await jest.advanceTimersByTimeAsync(30_000);
    expect(dumps()).toBe(1);
  });
});
