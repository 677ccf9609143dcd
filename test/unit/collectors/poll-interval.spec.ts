import { nextPollIntervalMs } from '../../../src/collectors/poll-interval';
import { maxIdleOf } from '../../../src/collectors/vlog-gone-check';

// [configured interval, dump ms, max share, max-idle ms, expected wait]
const cases: Array<[string, number, number, number, number, number]> = [
  ['a fast dump waits the configured interval', 1000, 5, 0.05, 10_000, 1000],
  ['a slower dump grows the wait to keep the share', 1000, 100, 0.05, 10_000, 2000],
  // A 169 ms dump on a loaded CI host waited 3.4 s; a 0.5 s one would wait max-idle and miss flows for good.
  ['a dump slowed by a loaded host never waits past half of max-idle', 1000, 500, 0.05, 10_000, 5000],
  ['a shorter max-idle caps sooner', 200, 300, 0.05, 2000, 1000],
  ['a configured interval longer than the cap stands (the operator chose it)', 8000, 500, 0.05, 10_000, 8000],
];

describe('the poller interval', () => {
  it.each(cases)('%s', (_what, interval, dump, share, maxIdle, want) => {
    expect(nextPollIntervalMs(interval, dump, share, maxIdle)).toBe(want);
  });

  it("caps by vswitchd's default max-idle when the database sets none", () => {
    expect(nextPollIntervalMs(1000, 2000, 0.05, maxIdleOf(undefined))).toBe(maxIdleOf(undefined) / 2);
  });
});
