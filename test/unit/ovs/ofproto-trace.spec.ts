import { existsSync, readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import * as fc from 'fast-check';
import { OvsParseError } from '../../../src/ovs/parse-error';
import { OfprotoTrace, OvsTextParseError, parseOfprotoTrace, stepTables } from '../../../src/ovs/ofproto-trace';
import { compareTracedActions, dpifShowPortNumbers } from '../../../src/ovs/trace-compare';
import { VERSIONS, versionDir, versionScenarios } from '../../support/captured-model';

/** Every captured own-key trace of every version (not the ovn-detrace renderings next to them), so new scenarios and versions are covered. */
function capturedTraces(): Array<{ version: string; scenario: string; ufid: string; text: string }> {
  return versionScenarios().flatMap(([version, scenario]) => {
    const dir = join(versionDir(version), scenario, 'traces');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => /^[0-9a-f-]{36}\.txt$/.test(f))
      .map((f) => ({ version, scenario, ufid: f.slice(0, 36), text: readFileSync(join(dir, f), 'utf8') }));
  });
}

function trace(text: string): OfprotoTrace {
  const r = parseOfprotoTrace(text);
  if (r.kind !== 'trace') throw new Error(`expected a trace, got ${r.kind}`);
  return r;
}

const TRACES = capturedTraces();

describe('parseOfprotoTrace on every captured trace', () => {
  it.each(VERSIONS)('has captured traces of %s to read', (version) => {
    expect(TRACES.filter((t) => t.version === version).length).toBeGreaterThanOrEqual(50);
  });

  it.each(TRACES.map((t) => [`${t.version}/${t.scenario}/${t.ufid}`, t] as const))('%s', (_name, t) => {
    const r = trace(t.text);
    const { pass } = r;
    expect(pass.flow.length).toBeGreaterThan(0);
    expect(pass.megaflow.length).toBeGreaterThan(0);
    expect(pass.datapathActions.length).toBeGreaterThan(0);
    expect(pass.datapathActionsError).toBeNull();
    expect(pass.datapathActionsParsed?.length).toBeGreaterThan(0);
    // The first bridge is the in_port's; a thawed pass may then run in another (frozen) bridge.
    expect(['br-int', 'br-ex']).toContain(pass.bridges[0]);
    // A pass does something: table lookups, or (thawed select group) replayed actions.
    expect(pass.steps.length + pass.unattached.length).toBeGreaterThan(0);
    for (const s of [...pass.steps, ...r.continuations.flatMap((c) => c.steps)]) {
      expect(s.table).toBeGreaterThanOrEqual(0);
      expect(s.table).toBeLessThanOrEqual(255);
      if (s.outcome === 'match') expect(s.cookie).toMatch(/^0x[0-9a-f]{8}$/);
      else expect(s.cookie).toBeNull();
    }
    // The traced pass ends at its own Datapath actions: the text has one per pass.
    expect(t.text.split('\nDatapath actions: ').length - 1).toBe(1 + r.continuations.length);
    // A recirculated flow's trace thaws and resumes; a recirc_id(0) one does not.
    const recirculated = /^Flow: recirc_id=0x/.test(t.text);
    expect(pass.resumeTable !== null).toBe(recirculated);
    for (const c of r.continuations) {
      expect(c.recircId).toMatch(/^0x[0-9a-f]+$/);
      expect(c.resumeTable).not.toBeNull();
    }
  });
});

describe.each(VERSIONS)('traced Datapath actions against the installed flow (dump-flows) on %s, ports mapped, recirc ids ignored', (version) => {
  const CAPTURED = versionDir(version);
  const scenarios = readdirSync(CAPTURED).filter((s) => existsSync(join(CAPTURED, s, 'dump-flows.txt')));
  const rows = scenarios.flatMap((s) => {
    const ports = existsSync(join(CAPTURED, s, 'dpif-show.txt'))
      ? dpifShowPortNumbers(readFileSync(join(CAPTURED, s, 'dpif-show.txt'), 'utf8'))
      : new Map<string, number>();
    return readFileSync(join(CAPTURED, s, 'dump-flows.txt'), 'utf8')
      .split('\n')
      .flatMap((line) => {
        const m = /^ufid:([0-9a-f-]{36}), .*?, actions:(.*?)(?:, dp-extra-info:.*)?$/.exec(line);
        const file = m ? join(CAPTURED, s, 'traces', `${m[1]}.txt`) : '';
        return m && existsSync(file) ? [{ scenario: s, ufid: m[1], installed: m[2], text: readFileSync(file, 'utf8'), ports }] : [];
      });
  });

  it('every captured flow with a trace agrees with its trace', () => {
    const results = rows.map((r) => ({ ...r, cmp: compareTracedActions(trace(r.text).pass, r.installed, r.ports) }));
    const slow = results.filter((r) => r.cmp.same && r.cmp.how === 'slow_path').length;
    const disagree = results.flatMap((r) => (r.cmp.same ? [] : [`${r.scenario}/${r.ufid}: ${r.cmp.reason}`]));
    // Printed so the report can quote it: how many of how many agree.
    console.log(`${version}: datapath actions: ${rows.length - disagree.length}/${rows.length} traces agree with dump-flows (${slow} as slow path)`);
    expect(rows.length).toBeGreaterThan(0);
    expect(disagree).toEqual([]);
  });
});

/** Builds trace text exactly as oftrace_node_print_details() indents it, for shapes no capture has. */
const T = (...lines: string[]): string => lines.join('\n') + '\n';
const TAIL = ['', 'Final flow: unchanged', 'Megaflow: recirc_id=0,eth,in_port=1,nw_frag=no', 'Datapath actions: 2'];

describe('parseOfprotoTrace on tricky inputs', () => {
  it('normalises cookies to 0x + 8 digits, cookie 0 included, and keeps 64-bit cookies whole', () => {
    const r = trace(T('Flow: in_port=1', '', 'bridge("br-int")', '----------------',
      ' 0. in_port=1, priority 100, cookie 0xdd9b0a', '    resubmit(,37)',
      '37. priority 0', '    resubmit(,38)',
      '38. ip, priority 5, cookie 0x5e030000000000', '    output:2', ...TAIL));
    expect(r.pass.steps.map((s) => [s.table, s.priority, s.cookie, s.match])).toEqual([
      [0, 100, '0x00dd9b0a', 'in_port=1'],
      [37, 0, '0x00000000', ''],
      [38, 5, '0x005e030000000000', 'ip'],
    ]);
    expect(r.pass.finalFlowUnchanged).toBe(true);
  });

  it('tells tail resubmits (same depth) from nested ones, and links each step to the one that led to it', () => {
    const r = trace(T('Flow: in_port=1', '', 'bridge("br-int")', '----------------',
      ' 8. metadata=0x1, priority 50, cookie 0xd938370d', '    resubmit(,73)',
      '    73. No match.', '            drop',
      '    move:NXM_NX_REG10[12]->NXM_NX_XXREG0[111]', '     -> NXM_NX_XXREG0[111] is now 0', '    resubmit(,9)',
      ' 9. metadata=0x1, priority 0, cookie 0x8b4a1ced', '    output:2', ...TAIL));
    expect(r.pass.steps.map((s) => [s.table, s.outcome, s.depth, s.parentStep])).toEqual([
      [8, 'match', 0, null],
      [73, 'no_match', 1, 0],
      [9, 'match', 0, 0],
    ]);
    expect(r.pass.steps[0].items.map((i) => [i.kind, i.text])).toEqual([
      ['action', 'resubmit(,73)'],
      ['action', 'move:NXM_NX_REG10[12]->NXM_NX_XXREG0[111]'],
      ['detail', 'NXM_NX_XXREG0[111] is now 0'],
      ['action', 'resubmit(,9)'],
    ]);
    expect(r.pass.steps[1].items).toEqual([{ kind: 'action', text: 'drop', line: 8, depth: 1 }]);
  });

  it('follows a patch port into a nested bridge, with warnings and errors kept', () => {
    const r = trace(T('Flow: in_port=1', '', 'bridge("br-int")', '----------------',
      ' 0. in_port=1, priority 100, cookie 0x1', '    output:5', '',
      '    bridge("br-ex")', '    ---------------',
      '         0. priority 0', '            NORMAL', '             >> no input bundle for port 7',
      '             >>>> Packets are dropped <<<<', '    set_field:0x1->reg0', ...TAIL));
    expect(r.pass.bridges).toEqual(['br-int', 'br-ex']);
    expect(r.pass.steps.map((s) => [s.bridge, s.table, s.depth])).toEqual([['br-int', 0, 0], ['br-ex', 0, 1]]);
    expect(r.pass.warnings.map((w) => w.text)).toEqual(['no input bundle for port 7']);
    expect(r.pass.errors.map((w) => w.text)).toEqual(['Packets are dropped']);
    expect(r.pass.steps[0].items.map((i) => i.text)).toEqual(['output:5', 'set_field:0x1->reg0']);
  });

  it('reads table-miss variants, slow path, failures and the recirculation limit', () => {
    const r = trace(T('Flow: in_port=1', '', 'bridge("br-int")', '----------------',
      ' 0. No match, and a "packet-in" is called for.', '    controller(reason=no_match)',
      '', 'Final flow: unchanged', 'Megaflow: recirc_id=0,in_port=1', 'Datapath actions: drop',
      'Translation failed (Recursion too deep), packet is dropped.',
      '', '', '='.repeat(79), 'Trace reached the recirculation limit.  Sopping the trace here.', 'Queued but not processed: 3 recirculations.'));
    expect(r.pass.steps[0].outcome).toBe('no_match_packet_in');
    expect(r.pass.translationFailed).toBe('Recursion too deep');
    expect(r.recirculationLimit).toEqual({ queued: 3 });
    const slow = trace(T('Flow: arp', '', 'bridge("br-int")', '----------------', ' 0. arp, priority 1', '    controller', ...TAIL,
      'This flow is handled by the userspace slow path because it:', '  - Sends "packet-in" messages to the OpenFlow controller.'));
    expect(slow.pass.slowPath).toEqual(['Sends "packet-in" messages to the OpenFlow controller']);
  });

  it('keeps a --ct-next continuation apart and says its state was given, not assumed', () => {
    const r = trace(T('Flow: in_port=1', '', 'bridge("br-int")', '----------------', ' 0. priority 0', '    ct(table=1,zone=1)', ...TAIL.slice(0, 3), 'Datapath actions: ct(zone=1),recirc(0x7)',
      '', '', '='.repeat(79), 'recirc(0x7) - resume conntrack with ct_state=est|trk', '='.repeat(79), '',
      'Flow: recirc_id=0x7,ct_state=est|trk,in_port=1', '', 'bridge("br-int")', '----------------', '    thaw', '        Resuming from table 1',
      ' 1. ct_state=+est+trk, priority 1', '    output:2', ...TAIL));
    expect(r.pass.datapathActions).toBe('ct(zone=1),recirc(0x7)');
    expect(r.continuations).toHaveLength(1);
    expect(r.continuations[0]).toMatchObject({ recircId: '0x7', ctState: 'est|trk', ctStateAssumed: false, resumeTable: 1, nat: null });
  });

  it('returns the no-recirculation-data refusal as a typed result, also as ovs-appctl prints it', () => {
    expect(parseOfprotoTrace('no recirculation data for recirc_id 0x99')).toEqual({
      kind: 'no_recirculation_data', recircId: '0x99', message: 'no recirculation data for recirc_id 0x99',
    });
    expect(parseOfprotoTrace('no recirculation data for recirc_id 0x99\novs-appctl: /run/ovs-vswitchd.4346.ctl: server returned an error\n').kind)
      .toBe('no_recirculation_data');
  });

  it.each([
    ['empty', ''],
    ['not a trace', 'ovs-vswitchd: unknown command'],
    ['no Final flow', T('Flow: x', '', 'bridge("br-int")', '----------------', ' 0. priority 0', '    drop')],
    ['no Megaflow', T('Flow: x', '', 'bridge("br-int")', '----------------', 'Final flow: unchanged', 'Datapath actions: drop')],
    ['too deep', T('Flow: x', '', 'bridge("br-int")', '----------------', ' 0. priority 0', '            drop', ...TAIL)],
    ['action at a table indentation', T('Flow: x', '', 'bridge("br-int")', '----------------', 'drop', ...TAIL)],
    ['bridge without dashes', T('Flow: x', '', 'bridge("br-int")', ' 0. priority 0', ...TAIL)],
    ['bad table line', T('Flow: x', '', 'bridge("br-int")', '----------------', ' 0. in_port=1', ...TAIL)],
    ['unclosed recirc header', T('Flow: x', '', 'bridge("br-int")', '----------------', ...TAIL, '', '='.repeat(79), 'recirc(0x1)')],
    ['junk after actions', T('Flow: x', '', 'bridge("br-int")', '----------------', ...TAIL, 'surprise')],
  ])('rejects %s with a typed error naming the line', (_name, text) => {
    let caught: unknown;
    try {
      parseOfprotoTrace(text);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(OvsTextParseError);
    expect((caught as OvsTextParseError).line).toBeGreaterThanOrEqual(1);
    expect((caught as OvsTextParseError).what).toBe('ofproto/trace');
  });
});

describe('parseOfprotoTrace properties', () => {
  const samples = TRACES.slice(0, 20).map((t) => t.text);
  const mutation = fc.record({
    sample: fc.nat(Math.max(0, samples.length - 1)),
    ops: fc.array(
      fc.oneof(
        fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
        fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }),
        fc.record({ op: fc.constant('indent' as const), at: fc.nat(), by: fc.integer({ min: -6, max: 6 }) }),
        fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ maxLength: 40 }) }),
        fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
      ),
      { maxLength: 6 },
    ),
  });

  it('never throws anything but OvsParseError on mutated real traces, and always returns', () => {
    fc.assert(
      fc.property(mutation, ({ sample, ops }) => {
        let text = samples[sample] ?? '';
        for (const o of ops) {
          const lines = text.split('\n');
          const at = lines.length === 0 ? 0 : o.at % lines.length;
          if (o.op === 'delete') lines.splice(at, 1);
          else if (o.op === 'duplicate') lines.splice(at, 0, lines[at] ?? '');
          else if (o.op === 'indent') lines[at] = o.by >= 0 ? ' '.repeat(o.by) + (lines[at] ?? '') : (lines[at] ?? '').slice(-o.by);
          else if (o.op === 'insert') lines.splice(at, 0, o.text);
          else text = text.slice(0, o.at % (text.length + 1));
          if (o.op !== 'truncate') text = lines.join('\n');
        }
        try {
          const r = parseOfprotoTrace(text);
          expect(['trace', 'no_recirculation_data']).toContain(r.kind);
        } catch (e) {
          expect(e).toBeInstanceOf(OvsParseError);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('never throws anything but OvsParseError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        for (const text of [s, `Flow: ${s}`, `Flow: x\n\nbridge("br-int")\n----------------\n${s}\nFinal flow: x\nMegaflow: x\nDatapath actions: ${s}`]) {
          try {
            parseOfprotoTrace(text);
          } catch (e) {
            expect(e).toBeInstanceOf(OvsParseError);
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it('reports the tables of a real trace in order', () => {
    const icmp = TRACES.find((t) => t.scenario === 'icmp-allow-related' && t.text.startsWith('Flow: icmp,in_port=1'));
    if (!icmp) return;
    expect(stepTables(trace(icmp.text).pass).slice(0, 3)).toEqual([0, 8, 73]);
  });
});
