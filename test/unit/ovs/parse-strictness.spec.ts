// What a parser accepts it reads exactly: a real captured line with one part mangled is refused with
// an OvsParseError naming it, never read as something else, and never fails with another error.
// Found by fuzzing mutated captured lines (test/support/odp-fixtures): each table row below is an
// input the parsers used to accept and mis-read (or throw a TypeError-like error over).
import { readFileSync } from 'fs';
import { join } from 'path';
import * as fc from 'fast-check';
import { formatDumpLine, parseDumpLine } from '../../../src/ovs/dump-flows';
import { parseKey, recircId, parseCtState } from '../../../src/ovs/odp-key';
import { parseGeneveOptions } from '../../../src/ovs/odp-key-views';
import { parseActions, recircTargets } from '../../../src/ovs/odp-actions';
import { pushReaches, tunnelMatch, tunnelPushes } from '../../../src/ovs/odp-tunnel';
import { tunnelSignature } from '../../../src/ovs/tunnel-signature';
import { OvsParseError } from '../../../src/ovs/parse-error';
import { parseEventLines } from '../../../src/ingest/ndjson';
import { parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';
import { parseOfprotoDetrace } from '../../../src/ovs/ofproto-detrace';
import { fixtureLines, mutated } from '../../support/odp-fixtures';

// A captured OVS 3.5 line (userspace datapath, -m).
const LINE = readFileSync(join(__dirname, '../../fixtures/captured/ovs-3.5.0_ovn-25.03.0/lb-vip/dump-flows.txt'), 'utf8')
  .split('\n')
  .find((l) => l.startsWith('ufid:1219b610-0a7d-4840-b425-9fba1bd51356, '))!;

describe('dump-flows lines: statistics read exactly', () => {
  it('reads the captured line', () => {
    expect(parseDumpLine(LINE)).toMatchObject({ packets: 1, bytes: 54, used: '0.597s', usedSeconds: 0.597, flags: 'S', dp: 'ovs' });
    expect(parseDumpLine(LINE.replace('used:0.597s', 'used:-0.001s')).usedSeconds).toBe(-0.001);
    expect(parseDumpLine(LINE.replace('packets:1', 'packets:9007199254740991')).packets).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([
    // [mangled part, replacement, what the error says]
    ['packets:1', 'packets: ', /expected a counter/], // was 0
    ['packets:1', 'packets:0x10', /expected a counter/], // was 16
    ['packets:1', 'packets:1e3', /expected a counter/], // was 1000
    ['packets:1', 'packets:1.', /expected a counter/], // was 1
    ['packets:1', 'packets:-0', /expected a counter/], // was 0
    ['packets:1', 'packets:01', /expected a counter/], // was 1 (PRIu64 prints no leading zero)
    ['bytes:54', 'bytes:\t54', /expected a counter/], // was 54
    ['packets:1', 'packets:9007199254740993', /past 2\^53/], // refused before too: kept so
    ['used:0.597s', 'used:0x10s', /used:never or used:N.NNNs/], // was 16
    ['used:0.597s', 'used: 1s', /used:never or used:N.NNNs/], // was 1
    ['used:0.597s', 'used:1e3s', /used:never or used:N.NNNs/], // was 1000
    ['dp:ovs, actions:', 'dp:ovs,x actions:', /expected ', ' before 'actions:'/], // was dp "ovs,x"
    ['dp:ovs, actions:', 'dp:ovs,actions:', /expected ', ' before 'actions:'/], // was dp "ovs,"
    ['flags:S, dp:ovs, actions:', 'flags:Sactions:', /expected ', ' before 'actions:'/], // was flags "S"
  ])('refuses %s mangled into %j', (part, by, why) => {
    const line = LINE.replace(part, by);
    expect(line).not.toBe(LINE);
    expect(() => parseDumpLine(line)).toThrow(OvsParseError);
    expect(() => parseDumpLine(line)).toThrow(why);
  });

  it('formats back to its own text (spaces aside) every mutated captured line it accepts', () => {
    // Without the fixes above this fails at once (e.g. `packets: , bytes:0` read as packets:0).
    const lines = fixtureLines().map((l) => l.line);
    const squeeze = (s: string) => s.replace(/ /g, '');
    fc.assert(
      fc.property(fc.constantFrom(...lines).chain(mutated), (text) => {
        let back: string;
        try {
          back = formatDumpLine(parseDumpLine(text));
        } catch (e) {
          if (e instanceof OvsParseError) return;
          throw e;
        }
        expect(squeeze(back)).toBe(squeeze(text));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('key views: recirc_id and ct_state read whole', () => {
  it.each([
    ['recirc_id(0x1zz)'], // was 1
    ['recirc_id(-1)'], // was -1, then a RangeError from recircIdHex (vlog source, ingest)
    ['recirc_id(1e3)'], // was 1
    ['recirc_id(0x1.5)'], // was 1
  ])('refuses %s', (key) => {
    expect(() => recircId(parseKey(key))).toThrow(OvsParseError);
  });

  it('reads what odp-util prints', () => {
    expect(recircId(parseKey('recirc_id(0x1f)'))).toBe(0x1f);
    expect(recircId(parseKey('recirc_id(0)'))).toBe(0);
    expect(parseCtState('0x21', '0x3f')).toEqual({ bits: 0x21, mask: 0x3f });
    expect(() => parseCtState('0x21zz')).toThrow(OvsParseError); // was 0x21
    expect(() => parseCtState('0x21', '0x3fzz')).toThrow(OvsParseError); // mask was 0x3f
  });
});

describe('tunnel parts: Geneve option data is a number or a parse error', () => {
  // tunnel-signature.ts relies on it ("tunnelPushes refused data that is no number"): it did not.
  const KEY = 'tunnel(tun_id=0x1,src=192.168.0.2,dst=192.168.0.1,geneve({class=0x102,type=0x80,len=4,0x20001/0x7fffffff}),flags(-df+csum+key))';
  const PUSH = 'set(tunnel(tun_id=0x1,dst=192.168.0.1,ttl=64,tp_dst=6081,geneve({class=0x102,type=0x80,len=4,0x20001}),flags(df|csum|key))),genev_sys_6081';

  it('reads captured forms', () => {
    const m = tunnelMatch(KEY)!;
    expect(m.ovn).toEqual({ ingress: 2, egress: 1 });
    expect(pushReaches(tunnelPushes(PUSH)[0], m)).toBe(true);
    expect(tunnelMatch(KEY.replace('0x20001/0x7fffffff', '0x20001/0'))!.geneve[0].mask).toBe('0');
  });

  it.each([
    ['0x20001/0x7fffffff', 'zz'], // SyntaxError: Cannot convert zz to a BigInt
    ['0x20001/0x7fffffff', '0x20001/zz'], // accepted, then a SyntaxError in pushReaches
    ['0x20001/0x7fffffff', '0x20001/0x7fffffff/0'], // second mask dropped
    ['0x20001/0x7fffffff', '1.5'],
  ])('refuses a key whose data %s is %s', (part, by) => {
    expect(() => tunnelMatch(KEY.replace(part, by))).toThrow(OvsParseError);
    expect(tunnelSignature(KEY.replace(part, by), 0)).toBeNull();
  });

  it('the key views refuse option data that is not hex as OVS prints it, and read 0 (all-zero data, ds_put_hex)', () => {
    // session-selector.ts reads the data with BigInt: 'zz' threw a SyntaxError out of a session's select().
    expect(parseGeneveOptions('{class=0x102,type=0x80,len=4,0x20001/0x7fffffff}')).toEqual([
      { attrs: [{ name: 'class', value: '0x102' }, { name: 'type', value: '0x80' }, { name: 'len', value: '4' }], data: '0x20001', dataMask: '0x7fffffff' },
    ]);
    expect(parseGeneveOptions('{class=0x102,type=0x80,len=4,0/0}')[0]).toMatchObject({ data: '0', dataMask: '0' });
    for (const bad of ['zz', '0x20001/zz', '20001', '0x'])
      expect(() => parseGeneveOptions(`{class=0x102,type=0x80,len=4,${bad}}`)).toThrow(/is not hex as OVS prints it/);
  });

  it('refuses a push whose data is no number', () => {
    expect(() => tunnelPushes(PUSH.replace('0x20001', 'zz'))).toThrow(OvsParseError);
  });
});

describe('NDJSON: a byte order mark opening the body', () => {
  const LINE1 = JSON.stringify({ type: 'ukey_removed', id: 'a', time: '2026-01-01T00:00:00Z', ufid: '94e1412f-0000-4000-8000-000000000000' });
  it('is no part of line 1', () => {
    const batch = parseEventLines(`\uFEFF${LINE1}\r\n${LINE1.replace('"a"', '"b"')}\r\n`);
    expect(batch.rejected).toEqual([]);
    expect(batch.events.map((e) => [e.line, e.event.id])).toEqual([[1, 'a'], [2, 'b']]);
  });
  it('anywhere else is still refused', () => {
    expect(parseEventLines(`${LINE1}\n\uFEFF${LINE1}`).rejected.map((r) => r.line)).toEqual([2]);
  });
});

describe('ofproto/trace: a bridge named in UTF-8', () => {
  // ofproto-dpif-trace.c underlines `bridge("…")` with strlen() dashes, bytes not characters.
  const captured = readFileSync(join(__dirname, '../../fixtures/captured/ovs-4.0.0_ovn-26.03.1/tcp-handshake/traces/152356ac-d063-4221-af2e-18de2c6027e5.txt'), 'utf8');
  const renamed = (name: string, dashes: number) =>
    captured.replace(/bridge\("br-int"\)\n( *)-+/g, (_m, indent: string) => `bridge("${name}")\n${indent}${'-'.repeat(dashes)}`);

  it('is read with the underline OVS prints', () => {
    const text = renamed('br-ïnt', Buffer.byteLength('bridge("br-ïnt")'));
    const r = parseOfprotoTrace(text);
    const before = parseOfprotoTrace(captured);
    if (r.kind !== 'trace' || before.kind !== 'trace') throw new Error('expected traces');
    expect(r.pass.bridges).toEqual(['br-ïnt']);
    expect(r.pass.steps.length).toBe(before.pass.steps.length);
  });

  it('with an underline of its character count is refused', () => {
    expect(() => parseOfprotoTrace(renamed('br-ïnt', 'bridge("br-ïnt")'.length))).toThrow(/underline of dashes/);
  });
});

describe('ofproto/detrace: table_id is what ofproto_rule_stats_ds prints', () => {
  // A captured OVS 3.5 rule line.
  const RULE = readFileSync(join(__dirname, '../../../test/fixtures/captured-detrace/ovs-3.5.0_ovn-25.03.0/arp/detrace/5f9c8db0-a557-4fe3-ae81-193af65f826b.txt'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('cookie=0x92bec93c, table_id=8, duration=17s'))!;
  const table = (line: string) => {
    const r = parseOfprotoDetrace(line);
    return r.kind === 'entries' && r.entries[0].type === 'rule' ? r.entries[0].table : undefined;
  };
  it('reads it', () => {
    expect(table(RULE)).toBe(8);
    expect(table(RULE.replace('table_id=8', 'table_id=255'))).toBe(255);
  });
  it.each(['table_id=', 'table_id=-1', 'table_id=0x10', 'table_id=1e1', 'table_id=256'])('refuses %s (was 0, -1, 16, 10)', (bad) => {
    expect(() => parseOfprotoDetrace(RULE.replace('table_id=8', bad))).toThrow(/bad table_id/);
  });
});

describe('ODP actions: recirc() holds a recirculation id', () => {
  it('reads what odp-util prints', () => {
    expect(recircTargets(parseActions('ct(zone=11,nat),recirc(0x4)'))).toEqual([4]);
    expect(recircTargets(parseActions('clone(recirc(0xffffffff))'))).toEqual([0xffffffff]);
  });
  it.each(['recirc(0x1zz)', 'recirc(zz)', 'recirc()', 'recirc(0x100000000)', 'recirc(-1)', 'clone(recirc(1e3))'])('refuses %s (was 1, NaN, NaN, 2^32, -1, 1)', (bad) => {
    expect(() => parseActions(`ct(zone=11,nat),${bad}`)).toThrow(OvsParseError);
  });
});
