// One garbled line in ovs-vswitchd's log must not stop the vswitchd log source. A miss whose key says
// recirc_id(0x100000000) (wider than the datapath's uint32) parsed as an ODP key, and the upcall
// linker's slot (recircId) threw OvsParseError out of the file follower's `lines` handler: the rest
// of that read was lost (every line after it in the chunk), settle() rejected, and on the syslog
// path the throw came out of the UDP socket's `message` event, which nothing catches (the process
// exits). Same for a flow_add with such a key (its lifetime queued, then the throw) and a `Dropped N
// log messages` line whose count is no number (prom-client's inc throws). Now such a record is
// refused at read, with a warning naming it and what was wrong, counted by reason in
// livetrace_vlog_records_refused_total, and reading goes on. Lines: the captured OVS 3.5 vswitchd.log
// (six misses, their six flow_adds) and the real `Dropped` lines of the captured logs; the store a
// real migrated SQLite.
import { createSocket } from 'node:dgram';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fc from 'fast-check';
import type { VlogSourceService } from '../../../src/collectors/vlog-source.service';
import { VlogParser, type VlogOutput } from '../../../src/ovs/vlog';
import { versionDir, versionScenarios } from '../../support/captured-model';
import { openMigratedSqlite } from '../../support/migrated-sqlite';
import { installed35, log35, missKeys35, NETDEV, RunningSource, startVlogSource, timeOf, vlogSourceSpec, vswitchdAway } from '../../support/vlog-source';
import { waitFor } from '../../support/wait';

const log = log35;
const WIDE = 'recirc_id(0x100000000)';
/** Every line of every captured vswitchd log. */
const captured = versionScenarios()
  .map(([v, s]) => join(versionDir(v), s, 'vswitchd.log'))
  .filter(existsSync)
  .flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((l) => l !== ''));
const droppedLine = captured.find((l) => /\|WARN\|Dropped \d+ log messages/.test(l))!;

const warnings = (source: VlogSourceService) => jest.spyOn((source as unknown as { log: { warn(m: string): void } }).log, 'warn').mockImplementation(() => undefined);
const counter = async (r: RunningSource, name: string, label: string) =>
  Object.fromEntries(((await r.metrics.registry.getSingleMetric(name)?.get())?.values ?? []).map((v) => [v.labels[label], v.value]));
/** The source's parser of a stream: how many lines / datagrams reached it. */
const parserOf = (source: VlogSourceService, name: string) => (source as unknown as { parsers: Map<string, { lineNo: number; datagramNo: number }> }).parsers.get(name);

describe('one garbled line in the vswitchd log', () => {
  const spec = vlogSourceSpec();
  const lifetimes = () => spec.m.db.prepare('SELECT ufid FROM datapath_flow ORDER BY id').all().map((r) => (r as { ufid: string }).ufid);
  const upcallKeys = () => spec.m.db.prepare('SELECT key FROM upcall ORDER BY id').all().map((r) => (r as { key: string }).key);

  /** The source on a fresh store, the whole of `lines` read in one chunk, then its clock past the linker's wait (from the read); settle()'s rejection, if any. */
  async function readAll(lines: string[]): Promise<{ running: RunningSource; threw: string | null; warn: jest.SpyInstance }> {
    spec.m = await openMigratedSqlite('livetrace-vlog-bad-line-');
    const running = await startVlogSource(spec.m, vswitchdAway, [NETDEV]);
    spec.source = running.source;
    const warn = warnings(spec.source);
    const now = jest.spyOn(Date, 'now').mockReturnValue(timeOf(log[0]) + 10_000);
    appendFileSync(running.file, [...lines, ''].join('\n'));
    const threw = await spec.source.settle().then(() => null, (e: Error) => `${e.name}: ${e.message}`);
    now.mockReturnValue(timeOf(log[0]) + 20_000);
    await spec.source.settle();
    return { running, threw, warn };
  }

  it('refuses a miss whose recirc_id is wider than 32 bits, naming it, and reads every line after it', async () => {
    expect(missKeys35).toHaveLength(6);
    const bad = log.indexOf(missKeys35[1]);
    const lines = log.map((l, i) => (i === bad ? l.replace(/^recirc_id\(0x1\),/, `${WIDE},`) : l));
    expect(lines[bad]).toContain(WIDE);
    const { running, threw, warn } = await readAll(lines);

    expect(lifetimes()).toEqual(installed35);
    expect(new Set(upcallKeys())).toEqual(new Set(missKeys35.filter((_, i) => i !== 1)));
    expect(upcallKeys()).toHaveLength(5);
    expect(threw).toBeNull();
    // The record's time and sequence number find it in the file, and so does its line (the file was read from its start).
    const head = lines[bad - 1];
    expect(warn).toHaveBeenCalledWith(expect.stringContaining(`refused a log record (bad_recirc_id) at ${/^\S+?\|\d+/.exec(head)![0]}, line ${bad} of ${running.file}`));
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('wider than 32 bits in "0x100000000"'));
    expect(await counter(running, 'livetrace_vlog_records_refused_total', 'reason')).toEqual({ bad_recirc_id: 1 });
    expect(await counter(running, 'livetrace_vlog_events_dropped_total', 'kind')).toEqual({});
  });

  it('refuses a flow_add whose recirc_id is wider than 32 bits before its lifetime is queued; its miss is stored unlinked', async () => {
    const bad = log.findIndex((l) => l.includes(`flow_add: ufid:${installed35[1]} `));
    const lines = log.map((l, i) => (i === bad ? l.replace(/ recirc_id\(0x1\),/, ` ${WIDE},`) : l));
    expect(lines[bad]).toContain(WIDE);
    const { running, threw, warn } = await readAll(lines);

    expect(lifetimes()).toEqual(installed35.filter((_, i) => i !== 1));
    expect(new Set(upcallKeys())).toEqual(new Set(missKeys35));
    expect(threw).toBeNull();
    expect(spec.m.db.prepare("SELECT count(*) AS n FROM upcall WHERE key LIKE 'recirc_id(0x1),%' AND ufid IS NULL").get()).toEqual({ n: 1 });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/refused a log record \(bad_recirc_id\) .*wider than 32 bits/));
    expect(await counter(running, 'livetrace_vlog_records_refused_total', 'reason')).toEqual({ bad_recirc_id: 1 });
    // Refused at read: no write of it failing later.
    expect(await counter(running, 'livetrace_vlog_events_dropped_total', 'kind')).toEqual({});
  });

  it('refuses a `Dropped N log messages` line whose N is past what vswitchd counts, and reads on', async () => {
    const bad = droppedLine.replace(/Dropped \d+ /, `Dropped ${'9'.repeat(400)} `);
    const lines = [...log.slice(0, 3), bad, ...log.slice(3)];
    const { running, threw, warn } = await readAll(lines);

    expect(lifetimes()).toEqual(installed35);
    expect(upcallKeys()).toHaveLength(6);
    expect(threw).toBeNull();
    expect(spec.source!['upcalls'].logSource.droppedMessages).toBe(0);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('refused a log record (bad_dropped_count) at'));
    expect(await counter(running, 'livetrace_vlog_records_refused_total', 'reason')).toEqual({ bad_dropped_count: 1 });
  });

  it('over UDP syslog, a garbled datagram is refused and the process goes on reading the next ones', async () => {
    const bad = log.indexOf(missKeys35[1]);
    const lines = log.map((l, i) => (i === bad ? l.replace(/^recirc_id\(0x1\),/, `${WIDE},`) : l));
    // One datagram a message, as vswitchd's --syslog-target sends it.
    const datagrams = lines
      .join('\n')
      .split(/\n(?=\d{4}-\d\d-\d\dT)/)
      .filter((m) => m.trim() !== '')
      .map((m) => {
        const p = /^(\S+?)\|\d+\|([A-Za-z0-9_-]+)(?:\([^()|]*\))?\|[A-Z]+\|/.exec(m)!;
        return `<135>1 ${p[1]} hv1 ovs-vswitchd 811 ${p[2]} - \uFEFF${m.slice(p[0].length)}`;
      });
    spec.m = await openMigratedSqlite('livetrace-vlog-bad-line-udp-');
    const running = await startVlogSource(spec.m, vswitchdAway, [NETDEV], { LIVETRACE_VLOG_FILE: '', LIVETRACE_VLOG_UDP: '127.0.0.1:0' });
    spec.source = running.source;
    const warn = warnings(spec.source);
    const port = (spec.source as unknown as { socket: { address(): { port: number } } }).socket.address().port;
    const tx = createSocket('udp4');
    try {
      for (const d of datagrams) await new Promise<void>((r) => tx.send(d, port, '127.0.0.1', () => r()));
    } finally {
      tx.close();
    }
    await waitFor('every datagram read', () => parserOf(spec.source!, 'udp')?.datagramNo === datagrams.length);
    await waitFor('the lifetimes and linked misses stored', async () => {
      await spec.source!.settle();
      return lifetimes().length === installed35.length && upcallKeys().length === 5;
    });
    expect(new Set(upcallKeys())).toEqual(new Set(missKeys35.filter((_, i) => i !== 1)));
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/refused a log record \(bad_recirc_id\) at \S+, datagram \d+ read from udp 127\.0\.0\.1:0: .*wider than 32 bits/));
    expect(await counter(running, 'livetrace_vlog_records_refused_total', 'reason')).toEqual({ bad_recirc_id: 1 });
  });

  it('no single line mutated from real captured lines stops the follower: every line and record after it is read', async () => {
    spec.m = await openMigratedSqlite('livetrace-vlog-bad-line-fuzz-');
    const running = await startVlogSource(spec.m, vswitchdAway, [NETDEV]);
    spec.source = running.source;
    warnings(spec.source);
    jest.spyOn(spec.source['log'], 'error').mockImplementation(() => undefined);
    // Every record the source's parsers hand over, to compare with what the source counted as read.
    let emitted = 0;
    const tally = (out: VlogOutput) => ((emitted += out.records.length), out);
    const push = VlogParser.prototype.pushLine;
    const flush = VlogParser.prototype.flush;
    jest.spyOn(VlogParser.prototype, 'pushLine').mockImplementation(function (this: VlogParser, l: string) {
      return tally(push.call(this, l));
    });
    jest.spyOn(VlogParser.prototype, 'flush').mockImplementation(function (this: VlogParser) {
      return tally(flush.call(this));
    });
    const NUMBER = /0x[0-9a-f]+|\d+/gi;
    const replaceNth = (line: string, n: number, to: string) => {
      const all = [...line.matchAll(NUMBER)];
      if (!all.length) return line;
      const m = all[n % all.length];
      return line.slice(0, m.index) + to + line.slice(m.index! + m[0].length);
    };
    const wide = fc.oneof(
      fc.constant('0x100000000'),
      fc.constant('9'.repeat(400)),
      fc.bigInt({ min: 0n, max: 1n << 80n }).map((b) => `0x${b.toString(16)}`),
      fc.bigInt({ min: 0n, max: 1n << 80n }).map(String),
      fc.string({ maxLength: 8 }),
    );
    // Lines whose numbers the source reads (keys, counts) drawn as often as all the others.
    const read = captured.filter((l) => /^recirc_id\(|\|flow_add: |: put|\|Dropped \d+ /.test(l));
    const line = fc.oneof(fc.constantFrom(...captured), fc.constantFrom(...read));
    const mutated = fc.oneof(
      fc.tuple(line, fc.nat(300), fc.string({ maxLength: 20 })).map(([l, cut, junk]) => l.slice(0, cut) + junk),
      fc.tuple(line, fc.nat(), wide).map(([l, n, to]) => replaceNth(l, n, to)),
      // The numbers the source itself reads: a key's recirc_id, a Dropped count.
      fc.tuple(fc.oneof(fc.constantFrom(...read), fc.constantFrom(...captured.filter((l) => l.includes('|Dropped ')))), wide).map(([l, to]) => l.replace(/(recirc_id\()[^)]*|(Dropped )\d+/, (_, a?: string, b?: string) => (a ?? b) + to)),
      line,
    );
    const counted = async () => (await running.metrics.registry.getSingleMetric('livetrace_vlog_records_total')!.get()).values.reduce((n, v) => n + v.value, 0);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutated, { minLength: 1, maxLength: 12 }), async (picked) => {
        const input = picked.filter((l) => !/[\n\r]/.test(l));
        // Each run against what the runs before it left: a run that failed does not fail the next ones (shrinking stays honest).
        const before = { lines: parserOf(spec.source!, 'file:1')?.lineNo ?? 0, read: await counted(), emitted, dropped: spec.source!['upcalls'].logSource.droppedMessages };
        // A record after the mutated lines (a real Dropped line, counted once read), and one to push it out of the parser.
        const sentinel = droppedLine.replace(/Dropped \d+ /, 'Dropped 1 ');
        const next = `${log[9].slice(0, 24)}|99999|vlog|INFO|end of run ${++run}`;
        appendFileSync(running.file, [...input, sentinel, next, ''].join('\n'));
        await expect(spec.source!.settle()).resolves.toBeUndefined();
        expect(parserOf(spec.source!, 'file:1')!.lineNo - before.lines).toBe(input.length + 2);
        expect((await counted()) - before.read).toBe(emitted - before.emitted);
        expect(spec.source!['upcalls'].logSource.droppedMessages).toBeGreaterThanOrEqual(before.dropped + 1);
      }),
      { numRuns: 300 },
    );
    // It met garbled keys, and no throw the refusals did not foresee (reason `error`).
    const reasons = await counter(running, 'livetrace_vlog_records_refused_total', 'reason');
    expect(reasons.bad_recirc_id).toBeGreaterThan(0);
    expect(reasons.bad_dropped_count).toBeGreaterThan(0);
    expect(reasons.error).toBeUndefined();
  });
});
