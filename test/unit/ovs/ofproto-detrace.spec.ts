import { existsSync, readdirSync, readFileSync, rmSync, mkdtempSync } from 'fs';
import { connect } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import * as fc from 'fast-check';
import { OvsParseError } from '../../../src/ovs/parse-error';
import { detraceCookies, OvsTextParseError, parseOfprotoDetrace } from '../../../src/ovs/ofproto-detrace';
import { parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';
import { DETRACE_FIXTURES, startFakeDetraceVswitchd } from '../../support/fake-detrace-vswitchd';

const read = (...p: string[]) => readFileSync(join(DETRACE_FIXTURES, ...p), 'utf8');
const UFIDS = readdirSync(DETRACE_FIXTURES).flatMap((f) => (/^([0-9a-f-]{36})\.trace\.txt$/.exec(f) ?? []).slice(1, 2));

describe('parseOfprotoDetrace on the documented samples', () => {
  it('has samples of both layouts', () => {
    expect(UFIDS.length).toBeGreaterThanOrEqual(3);
    for (const u of UFIDS) {
      expect(existsSync(join(DETRACE_FIXTURES, 'flat-3.4', `${u}.txt`))).toBe(true);
      expect(existsSync(join(DETRACE_FIXTURES, 'by-bridge', `${u}.txt`))).toBe(true);
    }
  });

  it.each(UFIDS)('%s: both layouts name the rules of the same flow\'s trace, in order', (ufid) => {
    const traced = parseOfprotoTrace(read(`${ufid}.trace.txt`));
    if (traced.kind !== 'trace') throw new Error('sample trace');
    const matched = traced.pass.steps.filter((s) => s.outcome === 'match');
    for (const layout of ['flat-3.4', 'by-bridge'] as const) {
      const r = parseOfprotoDetrace(read(layout, `${ufid}.txt`));
      if (r.kind !== 'entries') throw new Error('entries expected');
      expect(r.layout).toBe(layout === 'flat-3.4' ? 'flat' : 'by_bridge');
      const rules = r.entries.flatMap((e) => (e.type === 'rule' && e.table !== 254 ? [e] : []));
      expect(rules.map((e) => [e.table, e.priority, e.cookie, e.match])).toEqual(matched.map((s) => [s.table, s.priority, s.cookie, s.match]));
      expect(r.entries.every((e) => e.bridge === (layout === 'by-bridge' ? 'br-int' : null))).toBe(true);
      const misses = traced.pass.steps.filter((s) => s.outcome === 'no_match').map((s) => s.table);
      if (layout === 'by-bridge') expect(r.entries.flatMap((e) => (e.type === 'no_match' ? [e.table] : []))).toEqual(misses);
    }
  });

  it('reads stats, a group bucket and cookie 0', () => {
    const r = parseOfprotoDetrace(read('by-bridge', 'lb-group-bucket.txt'));
    if (r.kind !== 'entries') throw new Error('entries expected');
    expect(r.entries[0]).toMatchObject({ type: 'rule', cookie: '0xae950ea9', table: 20, priority: 120, actions: 'group:1', stats: { duration: '12s', n_packets: '1', n_bytes: '74' } });
    expect(r.entries[1]).toMatchObject({ type: 'group', groupId: 1, bridge: 'br-int' });
    const zero = parseOfprotoDetrace('duration=3s, n_packets=1, n_bytes=98, priority=100,in_port=1,actions=resubmit(,8)\n');
    expect(detraceCookies(zero)).toEqual(['0x00000000']);
  });

  it('returns "Cache was not found" as a retryable result', () => {
    expect(parseOfprotoDetrace(read('cache-not-found.txt'))).toMatchObject({ kind: 'cache_not_found', retryable: true });
  });

  it.each([
    ['a line that is no entry', 'hello world, this is not a rule\n'],
    ['a rule without actions', 'duration=3s, n_packets=1, n_bytes=98, priority=100,in_port=1\n'],
    ['an entry outside any bridge after a bridge line', 'br-int\n    table_id=3, no match\ntable_id=4, no match\n'],
    ['a bad cookie', 'cookie=0xzz, duration=3s, n_packets=1, n_bytes=98, actions=drop\n'],
  ])('rejects %s with a typed error naming the line', (_name, text) => {
    expect(() => parseOfprotoDetrace(text)).toThrow(OvsTextParseError);
  });

  it('never throws anything but OvsParseError', () => {
    const sample = read('by-bridge', UFIDS[0] + '.txt');
    fc.assert(
      fc.property(fc.nat(sample.length), fc.string({ maxLength: 30 }), fc.string({ maxLength: 300 }), (cut, junk, any) => {
        for (const text of [sample.slice(0, cut) + junk + sample.slice(cut), any]) {
          try {
            parseOfprotoDetrace(text);
          } catch (e) {
            expect(e).toBeInstanceOf(OvsParseError);
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});

/** One unixctl request over a fresh connection, the way ovs-appctl does it. */
function call(path: string, method: string, params: string[]): Promise<{ result: string | null; error: string | null; id: number }> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let buf = '';
    s.on('connect', () => s.write(JSON.stringify({ method, params, id: 7 })));
    s.on('data', (d) => {
      buf += d.toString();
      try {
        resolve(JSON.parse(buf));
        s.destroy();
      } catch {
        /* incomplete: wait for more */
      }
    });
    s.on('error', reject);
  });
}

describe('fake detrace-capable vswitchd', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fake-detrace-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists ofproto/detrace and answers Cache was not found the first N times', async () => {
    const fake = await startFakeDetraceVswitchd({ socketPath: join(dir, 'ovs-vswitchd.1.ctl'), cacheMissesBeforeReady: 2 });
    try {
      expect((await call(fake.socketPath, 'list-commands', [])).result).toContain('  ofproto/detrace');
      const ufid = `ufid:${UFIDS[0]}`;
      const replies = [];
      for (let i = 0; i < 3; i++) replies.push(await call(fake.socketPath, 'ofproto/detrace', [ufid, 'pmd=2147483647']));
      expect(replies.map((r) => parseOfprotoDetrace(r.result ?? '').kind)).toEqual(['cache_not_found', 'cache_not_found', 'entries']);
      expect(replies[2]).toMatchObject({ error: null, id: 7 });
      expect((await call(fake.socketPath, 'ofproto/detrace', ['nonsense'])).error).toBe('Invalid UFID');
      expect((await call(fake.socketPath, 'ofproto/trace', ['x'])).error).toContain('not a valid command');
      expect(fake.requests.filter(([m]) => m === 'ofproto/detrace')).toHaveLength(4);
    } finally {
      await fake.close();
    }
  });
});
