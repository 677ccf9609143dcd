// A vlog lifetime the log never ends is checked in the datapath (dpctl/get-flow) a max-idle and its
// margin after it was last known installed (vlog-gone-check.ts). That wait was counted from the log
// line's own time (vswitchd's clock) and compared with the agent's Date.now(): with vswitchd's clock
// minutes behind the agent's (an unsynchronized host, a log read behind) every new flow was checked at
// the first tick after its flow_add was read, while still installed; minutes ahead, a flow that idled
// out stayed open those minutes. A lifetime read back at a restart was watched from its stored last
// seen (vswitchd's time for one no check saw), minutes late the same way. The wait now counts on the
// agent's clock from when the line was read (or, read back, no later than the start); the stored first
// seen stays vswitchd's time. And so does every other time shown for the lifetime: a check's time (its
// end, its last seen) is written on vswitchd's clock too, the agent's moved by the clocks' offset
// (vlog-log-clock.ts). On the agent's clock, with vswitchd's 10 minutes ahead, a flow installed 12 s
// before the check that found it gone was shown ending 9 min 48 s before it began. Driven through VlogSourceService as it runs: the captured OVS 3.5
// main-thread flow_add read from a file, a real migrated SQLite, the stand-in vswitchd answering
// get-flow with the datapath's own "No such file or directory" (the flow idled out).
import { GONE_REASON } from '../../../src/collectors/vlog-gone-check';
import { openMigratedSqlite } from '../../support/migrated-sqlite';
import { capturedFlow } from '../../support/captured-vlog-flow';
import { ENOENT, firstFlowAdd, log35, NETDEV, startVlogSource, timeOf, vlogSourceSpec, vswitchdAway } from '../../support/vlog-source';

const MINUTES = 10 * 60_000;
/** A max-idle (10 s) and the check's margin (2 s): when a flow idle since it was installed is first asked for. */
const DUE_MS = 12_000;
/** The main thread's flow_add, its `flow match:`, and the line after them (the parser holds the last record). */
const lines = log35.slice(firstFlowAdd, firstFlowAdd + 3);
const logged = timeOf(lines[0]);
const { flow } = capturedFlow();
/** get-flow's answer of the flow installed, 3 packets, as dpctl prints it. */
const installed = `ufid:${flow.ufid}, ${flow.key}, packets:3, bytes:294, used:0.500s, actions:${flow.actions}\n`;
/** vswitchd's time `ms` after the flow_add it logged, as stored. */
const after = (ms: number) => new Date(logged + ms).toISOString();

describe('vlog gone checks, with vswitchd’s clock apart from the agent’s', () => {
  const spec = vlogSourceSpec();
  const rows = () => spec.m.db.prepare('SELECT first_seen AS firstSeen, removed_at AS removedAt, removal_reason AS reason FROM datapath_flow').all();
  const shown = () =>
    spec.m.db.prepare('SELECT first_seen AS firstSeen, last_seen AS lastSeen, removed_at AS removedAt, removal_reason AS reason FROM datapath_flow').all() as Array<{
      firstSeen: string;
      lastSeen: string;
      removedAt: string | null;
      reason: string | null;
    }>;

  /**
   * The flow_add read when the agent's clock says `read`; the times (ms after `read`) get-flow was
   * asked at, checked every second for `span` s; found installed by the first `present` checks.
   * `restarted`: read by a run before, the source started again then (true) or that many ms later.
   */
  async function askedAfterRead(read: number, span: number, restarted: boolean | number = false, present = 0): Promise<number[]> {
    spec.m = await openMigratedSqlite('livetrace-vlog-gone-clock-');
    jest.spyOn(Date, 'now').mockReturnValue(read);
    const start = read + (typeof restarted === 'number' ? restarted : 0);
    if (restarted !== false) {
      const before = await startVlogSource(spec.m, vswitchdAway, [NETDEV]);
      await before.append(lines, read);
      await before.source.onApplicationShutdown();
      jest.spyOn(Date, 'now').mockReturnValue(start);
    }
    const asked: number[] = [];
    const running = await startVlogSource(
      spec.m,
      async (command) => {
        if (command === 'dpctl/get-flow') asked.push(Date.now() - read);
        if (command === 'dpctl/get-flow' && asked.length <= present) return installed;
        throw ENOENT;
      },
      [NETDEV],
    );
    spec.source = running.source;
    if (restarted === false) await running.append(lines, read);
    for (let s = 0; s <= span && asked.length <= present; s++) await running.checkAt(start + s * 1000);
    return asked;
  }

  it('checks a flow of a log whose clock is minutes behind a max-idle after it was read, not at once', async () => {
    expect(await askedAfterRead(logged + MINUTES, 20)).toEqual([DUE_MS]);
    // First seen when vswitchd logged it; ended when the check found it gone, 12 s later on vswitchd's
    // clock as well (the agent's time less the clocks' 10 minutes), not 10 min 12 s after it began.
    expect(rows()).toEqual([{ firstSeen: after(0), removedAt: after(DUE_MS), reason: GONE_REASON }]);
  });

  it('checks a flow of a log whose clock is minutes ahead a max-idle after it was read, not minutes later', async () => {
    expect(await askedAfterRead(logged - MINUTES, 20)).toEqual([DUE_MS]);
    expect(rows()).toMatchObject([{ firstSeen: after(0), reason: GONE_REASON }]);
  });

  it('ends a lifetime of a log whose clock is minutes ahead after it began, by the time that really passed', async () => {
    await askedAfterRead(logged - MINUTES, 20);
    const [l] = shown();
    // The check 12 s after the flow_add was read (read as soon as logged): 12 s on vswitchd's clock too.
    expect(Date.parse(l.removedAt!)).toBeGreaterThanOrEqual(Date.parse(l.firstSeen));
    expect(Date.parse(l.removedAt!) - Date.parse(l.firstSeen)).toBe(DUE_MS);
  });

  it('shows a check that found the flow installed on the clock of the log, minutes ahead, then its end', async () => {
    // Installed at the first check (12 s after the read), gone at the next (a max-idle and margin on).
    expect(await askedAfterRead(logged - MINUTES, 40, false, 1)).toEqual([DUE_MS, 2 * DUE_MS]);
    expect(shown()).toEqual([{ firstSeen: after(0), lastSeen: after(DUE_MS), removedAt: after(2 * DUE_MS), reason: GONE_REASON }]);
  });

  it('checks a lifetime read back at a restart, last seen on a clock minutes ahead, a max-idle after the start', async () => {
    expect(await askedAfterRead(logged - MINUTES, 20, true)).toEqual([DUE_MS]);
    // No line read since the start: the clocks' offset is the one its own begin was heard with.
    expect(rows()).toEqual([{ firstSeen: after(0), removedAt: after(DUE_MS), reason: GONE_REASON }]);
  });

  // A lifetime read back was watched from its stored last seen taken for the agent's time: vswitchd's,
  // minutes off. Now moved onto the agent's clock by the offset its begin was heard with (heard_at less
  // first_seen), as shownAt moved it the other way.
  it('checks a lifetime read back at a restart, last seen on a clock minutes behind, a max-idle after it was read, not at once', async () => {
    expect(await askedAfterRead(logged + MINUTES, 20, true)).toEqual([DUE_MS]);
    expect(rows()).toEqual([{ firstSeen: after(0), removedAt: after(DUE_MS), reason: GONE_REASON }]);
  });

  it('checks a lifetime read back at a restart minutes after it was read, last seen on a clock minutes ahead, at once', async () => {
    // Restarted 5 minutes after the read: idle past its max-idle long ago, asked at the first tick.
    expect(await askedAfterRead(logged - MINUTES, 20, 5 * 60_000)).toEqual([5 * 60_000]);
  });
});
