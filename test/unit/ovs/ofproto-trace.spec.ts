import { existsSync, readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import * as fc from 'fast-check';
import { OvsParseError } from '../../../src/ovs/parse-error';
import { OfprotoTrace, OvsTextParseError, parseOfprotoTrace, stepTables } from '../../../src/ovs/ofproto-trace';
import { compareTracedActions, dpifShowPortNumbers } from '../../../src/ovs/trace-compare';

const CAPTURED = join(__dirname, '..', '..', 'fixtures', 'captured');

/** Every captured own-key trace (not the ovn-detrace renderings next to them), so new scenarios are covered. */
function capturedTraces(): Array<{ scenario: string; ufid: string; text: string }> {
  if (!existsSync(CAPTURED)) return [];
  return readdirSync(CAPTURED, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(CAPTURED, d.name, 'traces')))
    .flatMap((d) =>
      readdirSync(join(CAPTURED, d.name, 'traces'))
        .filter((f) => /^[0-9a-f-]{36}\.txt$/.test(f))
        .map((f) => ({ scenario: d.name, ufid: f.slice(0, 36), text: readFileSync(join(CAPTURED, d.name, 'traces', f), 'utf8') })),
    );
}

function trace(text: string): OfprotoTrace {
  const r = parseOfprotoTrace(text);
  if (r.kind !== 'trace') throw new Error(`expected a trace, got ${r.kind}`);
  return r;
}

const TRACES = capturedTraces();

describe('parseOfprotoTrace on every captured trace', () => {
  it('has captured traces to read', () => {
    expect(TRACES.length).toBeGreaterThanOrEqual(50);
  });

  it.each(TRACES.map((t) => [`${t.scenario}/${t.ufid}`, t] as const))('%s', (_name, t) => {
    const r = trace(t.text);
    const { pass } = r;
    expect(pass.flow.length).toBeGreaterThan(0);
    expect(pass.megaflow.length).toBeGreaterThan(0);
    expect(pass.datapathActions.length).toBeGreaterThan(0);
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

describe('traced Datapath actions against the installed flow (dump-flows), ports mapped, recirc ids ignored', () => {
  const scenarios = existsSync(CAPTURED) ? readdirSync(CAPTURED).filter((s) => existsSync(join(CAPTURED, s, 'dump-flows.txt'))) : [];
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
    console.log(`datapath actions: ${rows.length - disagree.length}/${rows.length} traces agree with dump-flows (${slow} as slow path)`);
    expect(rows.length).toBeGreaterThan(0);
    expect(disagree).toEqual([]);
  });
});
