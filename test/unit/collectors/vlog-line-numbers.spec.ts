// The warning of a refused vswitchd log record names its line, for a person to open
// ovs-vswitchd.log at. The number counted the lines the follower had read, which starts at the
// file's end as it was when the service started (and went on counting across a copytruncate), so
// "line 29" of a log that already held hundreds of lines pointed at another line of the file. Now
// the number is the file's own where the follower read it from its start (a file that appeared or
// was rotated or truncated under it), and otherwise says from which byte it counts.
// Lines: the captured OVS 3.5 vswitchd.log, a miss's key made wider than 32 bits (refused,
// bad_recirc_id); the store a real migrated SQLite.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import type { VlogSourceService } from '../../../src/collectors/vlog-source.service';
import { openMigratedSqlite } from '../../support/migrated-sqlite';
import { log35, missKeys35, NETDEV, startVlogSource, vlogSourceSpec, vswitchdAway } from '../../support/vlog-source';

const WIDE = 'recirc_id(0x100000000)';
/** log35 with its second miss's key garbled; `head`, the line of that record's head (0-based). */
const bad = log35.indexOf(missKeys35[1]);
const garbled = log35.map((l, i) => (i === bad ? l.replace(/^recirc_id\(0x1\),/, `${WIDE},`) : l));
const headText = log35[bad - 1];

const warnings = (source: VlogSourceService) => jest.spyOn((source as unknown as { log: { warn(m: string): void } }).log, 'warn').mockImplementation(() => undefined);

describe('the line a refused vswitchd log record is reported at', () => {
  const spec = vlogSourceSpec();

  it('counts from the byte the follower started at, and says so, when the log already held lines', async () => {
    spec.m = await openMigratedSqlite('livetrace-vlog-lines-after-');
    const existing = [...log35, ''].join('\n');
    const running = await startVlogSource(spec.m, vswitchdAway, [NETDEV], {}, existing);
    spec.source = running.source;
    const warn = warnings(spec.source);
    appendFileSync(running.file, [...garbled, ''].join('\n'));
    await spec.source.settle();

    const said = warn.mock.calls.map(([m]) => m as string).find((m) => m.includes('bad_recirc_id'))!;
    const at = /line (\d+) after byte (\d+) of (\S+):/.exec(said);
    expect(at).not.toBeNull();
    const [line, byte, file] = [Number(at![1]), Number(at![2]), at![3]];
    expect(file).toBe(running.file);
    expect(byte).toBe(Buffer.byteLength(existing));
    // Where it says: that line after that byte is the refused record's head.
    expect(readFileSync(file).subarray(byte).toString('utf8').split('\n')[line - 1]).toBe(headText);
  });

  it('is the file’s own line number after a copytruncate', async () => {
    spec.m = await openMigratedSqlite('livetrace-vlog-lines-truncated-');
    const running = await startVlogSource(spec.m, vswitchdAway, [NETDEV]);
    spec.source = running.source;
    const warn = warnings(spec.source);
    appendFileSync(running.file, [...log35, ''].join('\n'));
    await spec.source.settle();
    // logrotate's copytruncate, then vswitchd writes on from the start.
    writeFileSync(running.file, [...garbled.slice(0, 3), ''].join('\n'));
    await spec.source.settle();
    appendFileSync(running.file, [...garbled.slice(3), ''].join('\n'));
    await spec.source.settle();

    const said = warn.mock.calls.map(([m]) => m as string).find((m) => m.includes('bad_recirc_id'))!;
    const at = /line (\d+) of (\S+):/.exec(said);
    expect(at).not.toBeNull();
    expect(at![2]).toBe(running.file);
    expect(readFileSync(running.file, 'utf8').split('\n')[Number(at![1]) - 1]).toBe(headText);
  });
});
