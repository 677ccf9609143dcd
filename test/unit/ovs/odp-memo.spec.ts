import * as fc from 'fast-check';
import { DumpedFlow, parseDumpFlows, parseDumpLine } from '../../../src/ovs/dump-flows';
import { MemoTable, OdpMemo } from '../../../src/ovs/odp-memo';
import { parseKeyFields } from '../../../src/ovs/odp-key';
import { parseSharedActionList } from '../../../src/ovs/odp-actions';
import { OvsParseError } from '../../../src/ovs/parse-error';
import { fixtureLines, mutated } from '../../support/odp-fixtures';

const lines = fixtureLines().map((l) => l.line);

/** What a consumer sees of a flow (the class also holds the line and offsets). */
const view = (f: DumpedFlow) => ({
  line: f.line, thread: f.thread, ufid: f.ufid, key: f.key, packets: f.packets, bytes: f.bytes, used: f.used,
  usedSeconds: f.usedSeconds, flags: f.flags, offloaded: f.offloaded, dp: f.dp, actions: f.actions,
  keyText: f.keyText, actionsText: f.actionsText, dpExtraInfo: f.dpExtraInfo, extra: f.extra,
});

/** The result of parsing one line, or its error's message (which carries the position and reason). */
function outcome(line: string, build: OdpMemo | 'now' | 'on-read'): unknown {
  try {
    return view(parseDumpLine(line, 1, undefined, build));
  } catch (e) {
    if (!(e instanceof OvsParseError)) throw e;
    return `error: ${e.message}`;
  }
}

describe('per-dump memo of ODP structures', () => {
  it('builds every fixture line exactly as the parser without a memo does, and as on-read builds it', () => {
    const text = lines.join('\n');
    const shared = parseDumpFlows(text);
    const alone = parseDumpFlows(text, { memoEntries: 0 });
    const onRead = parseDumpFlows(text, { build: 'on-read' });
    expect(shared.errors).toEqual([]);
    expect(shared.items.map(view)).toEqual(alone.items.map(view));
    expect(shared.items.map(view)).toEqual(onRead.items.map(view));
  });

  it('shares equal field, attribute and action-list texts between flows, and freezes what it shares', () => {
    const dump = parseDumpFlows(lines.join('\n'));
    // A text is kept the second time it is seen: the second and later flows share it.
    const [, a, b] = dump.items.filter((f) => f.actionsText === 'ct(zone=11,nat),recirc(0x1)');
    expect(a.actions).toBe(b.actions);
    const ethType = (f: DumpedFlow) => f.key.fields.find((x) => x.name === 'eth_type');
    expect(ethType(a)).toBe(ethType(b));
    // Every object that more than one flow holds is frozen, down to attributes and actions.
    const users = new Map<object, number>();
    const count = (o: object) => users.set(o, (users.get(o) ?? 0) + 1);
    for (const f of dump.items) {
      count(f.actions);
      for (const x of f.actions) count(x);
      for (const field of f.key.fields) {
        count(field);
        if (field.kind === 'attrs') for (const attr of field.attrs) count(attr);
      }
    }
    const shared = [...users].filter(([, n]) => n > 1).map(([o]) => o);
    expect(shared.length).toBeGreaterThan(100);
    expect(shared.filter((o) => !Object.isFrozen(o))).toEqual([]);
    // A consumer cannot change what another flow sees.
    expect(() => {
      (a.actions as unknown[]).push('x');
    }).toThrow(TypeError);
    expect(() => {
      (ethType(a) as { value: string }).value = '0x86dd';
    }).toThrow(TypeError);
    expect(ethType(b)).toMatchObject({ kind: 'scalar', value: '0x0800' });
  });

  it('builds flows read later (on-read) through the same memo: shared and frozen alike', () => {
    const dump = parseDumpFlows(lines.join('\n'), { build: 'on-read' });
    const [first, a, b] = dump.items.filter((f) => f.actionsText === 'ct(zone=11,nat),recirc(0x1)');
    // Read in dump order: the first reading builds, the second keeps, later ones share.
    for (const f of [first, a, b]) expect(f.key.fields.length + f.actions.length).toBeGreaterThan(0);
    expect(a.actions).toBe(b.actions);
    expect(Object.isFrozen(a.actions)).toBe(true);
    const ethType = (f: DumpedFlow) => f.key.fields.find((x) => x.name === 'eth_type');
    expect(ethType(a)).toBe(ethType(b));
  });

  it('never leaks one flow into another: each flow has its own key array and its own varied fields', () => {
    const base = lines.find((l) => l.includes('ipv4(src=10.0.0.1/'))!;
    const other = base.replace('ipv4(src=10.0.0.1/', 'ipv4(src=10.9.9.9/');
    const memo = new OdpMemo();
    const f1 = parseDumpLine(base, 1, undefined, memo);
    const f2 = parseDumpLine(other, 2, undefined, memo);
    const f3 = parseDumpLine(base, 3, undefined, memo);
    expect(f1.key.fields).not.toBe(f3.key.fields);
    const ipv4 = (f: DumpedFlow) => f.key.fields.find((x) => x.name === 'ipv4');
    expect(ipv4(f2)).not.toBe(ipv4(f1));
    expect(ipv4(f2)).toMatchObject({ attrs: expect.arrayContaining([{ name: 'src', value: '10.9.9.9', mask: '0.0.0.0' }]) });
    expect(ipv4(f1)).toMatchObject({ attrs: expect.arrayContaining([{ name: 'src', value: '10.0.0.1', mask: '0.0.0.0' }]) });
    expect(view(f3)).toEqual({ ...view(f1), line: 3 });
  });

  it('gives the same result or the same error as the parser without a memo, on mutated lines sharing one memo', () => {
    const memo = new OdpMemo(64); // small, so clears happen during the run too
    fc.assert(
      fc.property(fc.constantFrom(...lines).chain((l) => fc.oneof(fc.constant(l), mutated(l))), (text) => {
        expect(outcome(text, memo)).toEqual(outcome(text, 'now'));
      }),
      { numRuns: 5000 },
    );
    expect(memo.fields.clears).toBeGreaterThan(0);
  });

  it('accepts exactly what on-read accepts, on mutated lines', () => {
    const memo = new OdpMemo();
    const ok = (r: unknown) => typeof r !== 'string';
    fc.assert(
      fc.property(fc.constantFrom(...lines).chain(mutated), (text) => {
        expect(ok(outcome(text, memo))).toBe(ok(outcome(text, 'on-read')));
      }),
      { numRuns: 5000 },
    );
  });

  it('tells apart texts whose hashes collide', () => {
    // 'Aa' and 'BB' have the same h*31+c hash, so these fields and action lists do too.
    const memo = new OdpMemo();
    const key = (t: string) => parseKeyFields(t, 0, t.length, memo);
    const actions = (t: string) => parseSharedActionList(t, 0, t.length, memo);
    for (let n = 0; n < 3; n++) {
      expect(key('x(Aa),ipv4(src=Aa)')).toEqual([
        { kind: 'unknown', name: 'x', text: 'x(Aa)' },
        { kind: 'attrs', name: 'ipv4', attrs: [{ name: 'src', value: 'Aa' }] },
      ]);
      expect(key('x(BB),ipv4(src=BB)')).toEqual([
        { kind: 'unknown', name: 'x', text: 'x(BB)' },
        { kind: 'attrs', name: 'ipv4', attrs: [{ name: 'src', value: 'BB' }] },
      ]);
      expect(actions('Aa')).toEqual([{ type: 'output', port: 'Aa' }]);
      expect(actions('BB')).toEqual([{ type: 'output', port: 'BB' }]);
    }
  });

  it('stays correct when many texts share one hash (probes are bounded, extra texts are just not kept)', () => {
    // 2^10 distinct 20-character texts with one hash: every Aa/BB choice gives the same h*31+c.
    const texts: string[] = [];
    for (let m = 0; m < 1024; m++) {
      let t = '';
      for (let k = 0; k < 10; k++) t += m & (1 << k) ? 'Aa' : 'BB';
      texts.push(t);
    }
    const memo = new OdpMemo();
    for (let round = 0; round < 2; round++) {
      for (const t of texts) expect(parseSharedActionList(t, 0, t.length, memo)).toEqual([{ type: 'output', port: t }]);
    }
    expect(memo.actionLists.size).toBeLessThanOrEqual(8);
  });
});

describe('MemoTable bound', () => {
  it('never holds more than its limit, starting over when full', () => {
    const table = new MemoTable<number>(100);
    const text = Array.from({ length: 1000 }, (_, i) => `f${i}`).join('');
    let at = 0;
    for (let i = 0; i < 1000; i++) {
      const t = `f${i}`;
      table.set(text, at, at + t.length, i * 7919, i);
      at += t.length;
      expect(table.size).toBeLessThanOrEqual(100);
    }
    expect(table.clears).toBeGreaterThanOrEqual(9);
  });

  it('keeps a dump of all-distinct lines correct with the smallest memo', () => {
    const varied = Array.from({ length: 300 }, (_, i) => lines[i % lines.length].replace(/=10\.0\.0\.(\d+)/g, `=10.${i >> 8}.${i & 255}.$1`));
    const text = varied.join('\n');
    expect(parseDumpFlows(text, { memoEntries: 1 }).items.map(view)).toEqual(parseDumpFlows(text, { memoEntries: 0 }).items.map(view));
  });
});
