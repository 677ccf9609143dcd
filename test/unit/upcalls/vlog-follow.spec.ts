import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFollower, listenSyslog } from '../../../src/collectors/vlog-follow';
import { parseVlogList } from '../../../src/collectors/vlog-levels';

function collect(f: FileFollower) {
  const got: Array<[number, string]> = [];
  const ended: number[] = [];
  const rotations: string[] = [];
  f.on('lines', (lines, stream) => lines.forEach((l) => got.push([stream, l])));
  f.on('end', (s) => ended.push(s));
  f.on('rotated', (k) => rotations.push(k));
  return { got, ended, rotations };
}

/**
 * `body` run on a follower of a new ovs-vswitchd.log in `dir` that holds `initial`: polled only when
 * the test says, a rotated file ended as soon as it stops growing, stopped whatever `body` does.
 */
async function following(dir: string, initial: string, body: (path: string, f: FileFollower, c: ReturnType<typeof collect>) => Promise<void>) {
  const path = join(dir, 'ovs-vswitchd.log');
  writeFileSync(path, initial);
  const f = new FileFollower(path, { pollMs: 3_600_000, drainMs: 0 });
  const c = collect(f);
  await f.start();
  try {
    await body(path, f, c);
  } finally {
    await f.stop();
  }
}

describe('following a log file', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'vlog-follow-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts at the end, keeps a partial line until its newline, survives rename and truncate without losing a line', () =>
    following(dir, 'old 1\nold 2\n', async (path, f, c) => {
      appendFileSync(path, 'a\nb');
      await f.poll();
      expect(c.got.map((x) => x[1])).toEqual(['a']);
      appendFileSync(path, 'c\n');
      await f.poll();
      expect(c.got.map((x) => x[1])).toEqual(['a', 'bc']);
      // logrotate "create": rename, the writer finishes the old file, then reopens the path.
      renameSync(path, path + '.1');
      appendFileSync(path + '.1', 'late to the old file\n');
      writeFileSync(path, 'new 1\n');
      await f.poll();
      appendFileSync(path, 'new 2\n');
      await f.poll();
      await f.poll(); // drain time over: the old stream ends
      expect(c.rotations).toEqual(['renamed']);
      expect(c.got.map((x) => x[1])).toEqual(['a', 'bc', 'late to the old file', 'new 1', 'new 2']);
      expect(new Set(c.got.slice(3).map((x) => x[0])).size).toBe(1);
      expect(c.ended).toEqual([c.got[0][0]]);
      // "copytruncate": read up to date, then truncated and written again.
      truncateSync(path, 0);
      appendFileSync(path, 'after truncate\n');
      await f.poll();
      expect(c.rotations).toEqual(['renamed', 'truncated']);
      expect(c.got.map((x) => x[1]).slice(-1)).toEqual(['after truncate']);
    }));

  it('keeps a character whose UTF-8 bytes a read cuts in two (a port or bridge name past ASCII)', () =>
    following(dir, '', async (path, f, c) => {
      // Reads are 1 MiB at most: 'é' (0xc3 0xa9) is written across the first read's end.
      const head = 'x'.repeat((1 << 20) - 1);
      appendFileSync(path, `${head}é\nbridge|INFO|bridge br-é: added interface vif-é on port 1\n`);
      await f.poll();
      // The long line by its length and end: a failure would print 1 MiB.
      expect(c.got.map((x) => [x[1].length, x[1].slice(-2)])).toEqual([[head.length + 1, 'xé'], [56, ' 1']]);
      expect(c.got[0][1] === `${head}é`).toBe(true);
      expect(c.got[1][1]).toBe('bridge|INFO|bridge br-é: added interface vif-é on port 1');
      // Cut between two polls: the first byte now, the second later.
      appendFileSync(path, Buffer.from([0x61, 0xc3]));
      await f.poll();
      appendFileSync(path, Buffer.from([0xa9, 0x0a]));
      await f.poll();
      expect(c.got.map((x) => x[1]).slice(2)).toEqual(['aé']);
    }));

  it('goes on reading a rotated file while vswitchd still writes to it (no vlog/reopen yet)', () =>
    following(dir, '', async (path, f, c) => {
      // Renamed by hand or by a logrotate rule without postrotate: vswitchd keeps writing the old file.
      renameSync(path, path + '.1');
      writeFileSync(path, '');
      await f.poll();
      appendFileSync(path + '.1', 'still to the old file 1\n');
      await f.poll();
      appendFileSync(path + '.1', 'still to the old file 2\n');
      await f.poll();
      // vlog/reopen at last: the new file is written, the old one no more.
      appendFileSync(path, 'new 1\n');
      await f.poll();
      await f.poll();
      expect(c.got.map((x) => x[1])).toEqual(['still to the old file 1', 'still to the old file 2', 'new 1']);
      expect(c.ended).toEqual([c.got[0][0]]);
    }));

  it('waits for a file that does not exist yet and reads it from its start', async () => {
    const path = join(dir, 'later.log');
    const f = new FileFollower(path, { pollMs: 3_600_000 });
    const c = collect(f);
    await f.start();
    await f.poll();
    writeFileSync(path, 'first\n');
    await f.poll();
    expect(c.got.map((x) => x[1])).toEqual(['first']);
    await f.stop();
  });
});

describe('syslog listener and vlog/list', () => {
  it('hands each UDP datagram over whole', async () => {
    const got: string[] = [];
    const sock = await listenSyslog('127.0.0.1:0', (t) => got.push(t));
    const port = sock.address().port;
    const dgram = '<191>1 2026-11-27T05:21:55.633Z hv1 ovs-vswitchd 1234 dpif_netdev - \uFEFFovs-netdev: miss upcall:\nrecirc_id(0),in_port(4)\nicmp,dl_src=50:54:00:00:00:01';
    const tx = createSocket('udp4');
    await new Promise<void>((r) => tx.send(dgram, port, '127.0.0.1', () => r()));
    for (let i = 0; i < 100 && !got.length; i++) await new Promise((r) => setTimeout(r, 20));
    tx.close();
    sock.close();
    expect(got).toEqual([dgram]);
  });

  it('reads the levels of vlog/list', () => {
    const text = '                 console    syslog    file\n                 -------    ------    ------\nbacktrace          OFF        ERR       INFO\ndpif_netdev        OFF        ERR       INFO\n';
    expect(parseVlogList(text).get('dpif_netdev')).toEqual({ console: 'off', syslog: 'err', file: 'info' });
  });
});
