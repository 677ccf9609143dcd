// The numbers of ofproto/trace and ofproto/detrace text, bounded by what OVS can print there, on real
// captured replies with one line changed. Number() alone took any digit string: past 2^53 it
// rounds (priority 99999999999999999999 read as 100000000000000000000), leading zeros hid a
// hand-edited or corrupted line.
//
// Priority: OpenFlow's is 16 bits, but the classifier's is an int that ofproto-dpif-xlate.c prints
// with `priority %d`, and the rules OVS adds itself to table 0 sit above 65535 (in-band control
// 180000…180008, ofproto/in-band.c; fail-open 0xf0f0f0 = 15790320, ofproto/fail-open.h): a trace can
// show those, so the bound is the int's, 2147483647.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseOfprotoDetrace } from '../../../src/ovs/ofproto-detrace';
import { OvsTextParseError, parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';

const FIX = join(__dirname, '../../fixtures');
// Resumed from table 15, first table line ` 15. …, priority 7, cookie 0x9575a32a` on line 7.
const THAWED = readFileSync(join(FIX, 'captured/ovs-3.5.0_ovn-25.03.0/routed/traces/c664d835-80c4-44d3-971d-70fc296396d8.txt'), 'utf8');
// Continuations: `recirc(0x5) - resume conntrack with default ct_state=trk|new …` on line 103.
const CONTINUED = readFileSync(join(FIX, 'captured/ovs-3.1.0_ovn-23.03.1/acl-drop/traces/3b98d74e-1f6b-4c04-bed6-31db7142d175.txt'), 'utf8');
// `table_id=73, no match` on line 4, `priority=0` on line 5.
const DETRACE = readFileSync(join(FIX, 'captured-detrace/ovs-4.0.0_ovn-26.03.1/arp/detrace/048ea352-4791-44fc-a4f0-bf9a16680f73.no-pmd.txt'), 'utf8');

/** The text with the first occurrence of `from` replaced, and the 1-based line it is on. */
function changed(text: string, from: string, to: string): { text: string; line: number } {
  const at = text.indexOf(from);
  if (at < 0) throw new Error(`fixture lacks ${from}`);
  return { text: text.slice(0, at) + to + text.slice(at + from.length), line: text.slice(0, at).split('\n').length };
}

function thrown(f: () => unknown): OvsTextParseError {
  try {
    f();
  } catch (e) {
    if (e instanceof OvsTextParseError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('trace numbers: refused past what OVS prints, naming the field and the line', () => {
  it.each([
    ['a priority of 20 digits', THAWED, 'priority 7, cookie 0x9575a32a', 'priority 99999999999999999999, cookie 0x9575a32a', /priority/],
    ['a priority past the int', THAWED, 'priority 7, cookie 0x9575a32a', 'priority 2147483648, cookie 0x9575a32a', /priority/],
    ['a priority with leading zeros', THAWED, 'priority 7, cookie 0x9575a32a', 'priority 0000000000000000000007, cookie 0x9575a32a', /priority/],
    ['a table with leading zeros', THAWED, '\n15. ct_state', '\n0000000000000000000015. ct_state', /table/],
    ['a resumed table of 20 digits', THAWED, 'Resuming from table 15', 'Resuming from table 99999999999999999999', /Resuming from table/],
    ['a resumed table past 255', THAWED, 'Resuming from table 15', 'Resuming from table 256', /Resuming from table/],
    ['a recirc id past 32 bits', CONTINUED, 'recirc(0x5) - resume', 'recirc(0x100000005) - resume', /recirc/],
  ])('trace: %s', (_what, fixture, from, to, field) => {
    const c = changed(fixture, from, to);
    const e = thrown(() => parseOfprotoTrace(c.text));
    expect(e.reason).toMatch(field);
    expect(e.line).toBe(c.line + (from.startsWith('\n') ? 1 : 0));
  });

  it('trace: a recirculation limit whose queue count is 20 digits', () => {
    const cut = THAWED.indexOf('\n', THAWED.indexOf('Datapath actions: ')) + 1;
    const text = `${THAWED.slice(0, cut)}\n${'='.repeat(79)}\nTrace reached the recirculation limit.  Sopping the trace here.\nQueued but not processed: 99999999999999999999 recirculations.\n`;
    const e = thrown(() => parseOfprotoTrace(text));
    expect(e.reason).toMatch(/Queued but not processed/);
    expect(e.line).toBe(text.split('\n').length - 1);
    // The count OVS does print reads as before.
    const ok = parseOfprotoTrace(text.replace('99999999999999999999', '4097'));
    expect(ok.kind === 'trace' && ok.recirculationLimit).toEqual({ queued: 4097 });
  });

  it('trace: the daemon\'s refusal naming a recirc id past 32 bits (`%#"PRIx32` prints 8 digits at most)', () => {
    expect(parseOfprotoTrace('no recirculation data for recirc_id 0x1a\n')).toMatchObject({ kind: 'no_recirculation_data', recircId: '0x1a' });
    const e = thrown(() => parseOfprotoTrace('no recirculation data for recirc_id 0x10000001a\n'));
    expect(e.reason).toMatch(/recirc id/);
    expect(e.line).toBe(1);
  });

  it.each([
    ['a priority of 20 digits', 'priority=0,reg0=0x2', 'priority=99999999999999999999,reg0=0x2', /priority/],
    ['a no-match table of 20 digits', 'table_id=73, no match', 'table_id=99999999999999999999, no match', /table_id/],
  ])('detrace: %s', (_what, from, to, field) => {
    const c = changed(DETRACE, from, to);
    const e = thrown(() => parseOfprotoDetrace(c.text));
    expect(e.reason).toMatch(field);
    expect(e.line).toBe(c.line);
  });

  it.each([
    ['65535 (OpenFlow)', 65535],
    ['180000 (in-band control)', 180000],
    ['15790320 (fail-open)', 0xf0f0f0],
    ['0', 0],
  ])('reads the priorities OVS prints: %s', (_what, p) => {
    const r = parseOfprotoTrace(changed(THAWED, 'priority 7, cookie 0x9575a32a', `priority ${p}, cookie 0x9575a32a`).text);
    expect(r.kind === 'trace' && r.pass.steps[0].priority).toBe(p);
    const d = parseOfprotoDetrace(changed(DETRACE, 'priority=0,reg0=0x2', `priority=${p},reg0=0x2`).text);
    expect(d.kind === 'entries' && d.entries.find((x) => x.type === 'rule' && x.table === 254)).toMatchObject({ priority: p });
  });
});
