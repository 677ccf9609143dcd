// An upcall read from vswitchd's log waits (the upcall linker, at most 3 s) for the flow_add that
// installed its flow. Its wait was measured from the log line's own time (vswitchd's clock) to the
// agent's Date.now(): with vswitchd's clock minutes behind the agent's (another host's syslog, a
// clock not synchronized, or a log read behind), every upcall had waited "minutes" at its first
// tick and was stored unlinked though its flow_add came in the next read; minutes ahead, an upcall
// whose flow_add never comes waited those minutes instead of 3 s. The wait is now measured on the
// agent's clock from when the line was read; the stored time stays vswitchd's.
// Lines: the captured OVS 3.5 vswitchd.log (icmp-allow-related: six misses before their flow_adds),
// read in two parts (the misses, then the flow_adds); a real migrated SQLite store.
import { appendFileSync } from 'node:fs';
import { openMigratedSqlite } from '../../support/migrated-sqlite';
import { firstFlowAdd, log35, misses35, NETDEV, startVlogSource, timeOf, vlogSourceSpec, vswitchdAway } from '../../support/vlog-source';

const MINUTES = 10 * 60_000;

describe('the upcall linker’s wait, with vswitchd’s clock apart from the agent’s', () => {
  const spec = vlogSourceSpec();
  const upcalls = () => spec.m.db.prepare('SELECT time, ufid FROM upcall ORDER BY id').all() as Array<{ time: string; ufid: string | null }>;
  const isMiss = (l: string) => l.includes('|dpif_netdev|DBG|ovs-netdev: miss upcall:');
  /** The misses read before any flow_add: those the first tick finds waiting. */
  const missesBefore = log35.slice(0, firstFlowAdd).filter(isMiss);

  async function source(prefix: string) {
    spec.m = await openMigratedSqlite(prefix);
    const running = await startVlogSource(spec.m, vswitchdAway, [NETDEV]);
    spec.source = running.source;
    return running;
  }

  it('links the upcalls of a log whose clock is minutes behind, their flow_adds read in the next read', async () => {
    expect(missesBefore.length).toBeGreaterThan(0);
    const { file } = await source('livetrace-vlog-clock-behind-');
    const now = jest.spyOn(Date, 'now').mockReturnValue(timeOf(log35[0]) + MINUTES);
    appendFileSync(file, [...log35.slice(0, firstFlowAdd), ''].join('\n'));
    await spec.source!.settle(); // a tick between the two reads
    now.mockReturnValue(timeOf(log35[0]) + MINUTES + 250);
    appendFileSync(file, [...log35.slice(firstFlowAdd), ''].join('\n'));
    await spec.source!.settle();
    await spec.source!.onApplicationShutdown(); // what still waits is written, unlinked
    spec.source = undefined;

    const rows = upcalls();
    expect(rows).toHaveLength(misses35);
    expect(rows.filter((r) => r.ufid === null)).toEqual([]);
    // The time shown is vswitchd's own.
    expect(rows.map((r) => Date.parse(r.time)).sort()).toEqual(log35.filter(isMiss).map(timeOf).sort());
  });

  it('releases, 3 s after it was read, an upcall whose flow_add never comes from a log whose clock is minutes ahead', async () => {
    const { file } = await source('livetrace-vlog-clock-ahead-');
    const read = timeOf(log35[0]) - MINUTES;
    const now = jest.spyOn(Date, 'now').mockReturnValue(read);
    appendFileSync(file, [...log35.slice(0, firstFlowAdd), ''].join('\n'));
    await spec.source!.settle();
    expect(upcalls()).toHaveLength(0); // waiting for their flows
    now.mockReturnValue(read + 4000);
    await spec.source!.settle();
    expect(upcalls()).toHaveLength(missesBefore.length);
    expect(upcalls().every((r) => r.ufid === null)).toBe(true);
  });
});
