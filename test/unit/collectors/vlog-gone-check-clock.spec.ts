// A vlog lifetime the log never ends is checked in the datapath (dpctl/get-flow) a max-idle and its
// margin after it was last known installed (vlog-gone-check.ts). That wait was counted from the log
// line's own time (vswitchd's clock) and compared with the agent's Date.now(): with vswitchd's clock
// minutes behind the agent's (an unsynchronized host, a log read behind) every new flow was checked at
// the first tick after its flow_add was read, while still installed; minutes ahead, a flow that idled
// out stayed open those minutes. A lifetime read back at a restart was watched from its stored last
// seen (vswitchd's time for one no check saw), minutes late the same way. The wait now counts on the
// agent's clock from when the line was read (or, read back, no later than the start); the stored first
// seen stays vswitchd's time. Driven through VlogSourceService as it runs: the captured OVS 3.5
// main-thread flow_add read from a file, a real migrated SQLite, the stand-in vswitchd answering
// get-flow with the datapath's own "No such file or directory" (the flow idled out).
import { GONE_REASON } from '../../../src/collectors/vlog-gone-check';
import { openMigratedSqlite } from '../../support/migrated-sqlite';
import { ENOENT, firstFlowAdd, log35, NETDEV, startVlogSource, timeOf, vlogSourceSpec, vswitchdAway } from '../../support/vlog-source';

const MINUTES = 10 * 60_000;
/** A max-idle (10 s) and the check's margin (2 s): when a flow idle since it was installed is first asked for. */
const DUE_MS = 12_000;
/** The main thread's flow_add, its `flow match:`, and the line after them (the parser holds the last record). */
const lines = log35.slice(firstFlowAdd, firstFlowAdd + 3);
const logged = timeOf(lines[0]);

describe('vlog gone checks, with vswitchd’s clock apart from the agent’s', () => {
  const spec = vlogSourceSpec();
  const rows = () => spec.m.db.prepare('SELECT first_seen AS firstSeen, removed_at AS removedAt, removal_reason AS reason FROM datapath_flow').all();

  /** The flow_add read when the agent's clock says `read`; the times (ms after `read`) get-flow was asked at, checked every second for `span` s. */
  async function askedAfterRead(read: number, span: number, restarted = false): Promise<number[]> {
    spec.m = await openMigratedSqlite('livetrace-vlog-gone-clock-');
    jest.spyOn(Date, 'now').mockReturnValue(read);
    if (restarted) {
      const before = await startVlogSource(spec.m, vswitchdAway, [NETDEV]);
      await before.append(lines, read);
      await before.source.onApplicationShutdown();
    }
    const asked: number[] = [];
    const running = await startVlogSource(
      spec.m,
      async (command) => {
        if (command === 'dpctl/get-flow') asked.push(Date.now() - read);
        throw ENOENT;
      },
      [NETDEV],
    );
    spec.source = running.source;
    if (!restarted) await running.append(lines, read);
    for (let s = 0; s <= span && !asked.length; s++) await running.checkAt(read + s * 1000);
    return asked;
  }

  it('checks a flow of a log whose clock is minutes behind a max-idle after it was read, not at once', async () => {
    expect(await askedAfterRead(logged + MINUTES, 20)).toEqual([DUE_MS]);
    // Ended when the check found it gone, on the agent's clock; first seen when vswitchd logged it.
    expect(rows()).toEqual([{ firstSeen: new Date(logged).toISOString(), removedAt: new Date(logged + MINUTES + DUE_MS).toISOString(), reason: GONE_REASON }]);
  });

  it('checks a flow of a log whose clock is minutes ahead a max-idle after it was read, not minutes later', async () => {
    expect(await askedAfterRead(logged - MINUTES, 20)).toEqual([DUE_MS]);
    expect(rows()).toMatchObject([{ firstSeen: new Date(logged).toISOString(), reason: GONE_REASON }]);
  });

  it('checks a lifetime read back at a restart, last seen on a clock minutes ahead, a max-idle after the start', async () => {
    expect(await askedAfterRead(logged - MINUTES, 20, true)).toEqual([DUE_MS]);
    expect(rows()).toMatchObject([{ reason: GONE_REASON }]);
  });
});
