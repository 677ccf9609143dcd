// The parser of `ovn-trace --detailed` on real outputs of ovn-trace 23.03 (scripts/capture-ovn-trace-fixtures).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OvnTraceParseError, OvnTraceRefusedError, parseOvnTrace, simVerdict } from '../../../src/cross-checks/ovn-trace-parse';

const DIR = join(__dirname, '../../fixtures/captured-ovn-trace');
const load = (name: string) => readFileSync(join(DIR, `${name}.txt`), 'utf8');

describe('parseOvnTrace on captured ovn-trace --detailed output', () => {
  it('reads pipelines, stages with their uuid prefix, ct_next sections and the output', () => {
    const r = parseOvnTrace(readFileSync(join(DIR, 'live/icmp-path.ovn-trace.txt'), 'utf8'));
    expect(r.flow).toMatch(/^icmp,reg14=0x1,/);
    expect(r.pipelines.map((p) => [p.pipeline, p.datapath, p.inport, p.outport])).toEqual([
      ['ingress', 'sw0', 'lsp1', null],
      ['egress', 'sw0', 'lsp1', 'lsp2'],
    ]);
    expect(r.pipelines[0].stages[0]).toMatchObject({ table: 0, stage: 'ls_in_check_port_sec', source: 'northd.c:8432', match: '1', priority: 50, uuid: 'f3b8df07' });
    expect(r.pipelines[0].stages.find((s) => s.stage === 'ls_in_acl')).toMatchObject({
      table: 8,
      match: 'reg0[7] == 1 && (inport == "lsp1" && ip4)',
      priority: 2001,
      uuid: '55f46eeb',
      actions: ['reg0[1] = 1;', 'next;'],
    });
    expect(r.sections.map((s) => [s.title, s.conntrack, s.ctState, s.defaulted, s.pipelineIndex])).toEqual([
      ['ct_next(ct_state=new|trk)', true, 'new|trk', false, 0],
      ['ct_next(ct_state=new|trk)', true, 'new|trk', false, 1],
    ]);
    expect(r.outputs).toEqual([{ port: 'lsp2', type: '', pipelineIndex: 1 }]);
    expect(simVerdict(r)).toEqual({ outputs: ['lsp2'], dropped: false });
  });

  it("marks ct sections that used ovn-trace's default state (no --ct)", () => {
    const r = parseOvnTrace(load('icmp-default-ct'));
    expect(r.sections.every((s) => s.conntrack && s.defaulted)).toBe(true);
    expect(r.sections[0].title).toBe('ct_lb_mark /* default (use --ct to customize) */');
  });

  it('finds the drop of an ACL', () => {
    const r = parseOvnTrace(load('acl-drop'));
    expect(r.drops).toHaveLength(1);
    expect(r.drops[0].stage).toMatchObject({ stage: 'ls_out_acl', priority: 3000, actions: ['drop;'] });
    expect(simVerdict(r)).toEqual({ outputs: [], dropped: true });
  });

  it('follows a routed packet through six pipelines; patch outputs are not the end', () => {
    const r = parseOvnTrace(load('routed'));
    expect(r.pipelines.map((p) => `${p.pipeline}/${p.datapath}`)).toEqual(['ingress/sw0', 'egress/sw0', 'ingress/lr0', 'egress/lr0', 'ingress/sw1', 'egress/sw1']);
    expect(r.outputs.map((o) => o.type)).toEqual(['patch', 'patch', '']);
    expect(simVerdict(r).outputs).toEqual(['lsp4']);
  });

  it('keeps a load balancer stage and the ct_lb_mark sections', () => {
    const r = parseOvnTrace(load('lb-vip'));
    expect(r.pipelines[0].stages.find((s) => s.table === 6)?.match).toBe('reg0[2] == 1 && ip4.dst == 10.0.0.100 && tcp.dst == 80');
    expect(r.sections.map((s) => s.title)).toEqual(['ct_lb_mark', 'ct_lb_mark']);
  });

  it('reads a port name with quotes, a backslash and $( ) as ovn-trace prints it', () => {
    const r = parseOvnTrace(load('weird-port'));
    expect(r.pipelines[0]).toMatchObject({ pipeline: 'ingress', datapath: 'sw0', inport: 'we"ird\\ $(x);' });
  });

  it('a refused microflow (stdout, exit 0) is an OvnTraceRefusedError with its message', () => {
    expect(() => parseOvnTrace(load('unknown-datapath'))).toThrow(new OvnTraceRefusedError('unknown datapath "nosuchdp"'));
    expect(() => parseOvnTrace(load('parse-error'))).toThrow(/error parsing flow: Syntax error/);
    expect(() => parseOvnTrace(load('unknown-port'))).toThrow(OvnTraceRefusedError); // empty: ovn-trace aborted
  });

  it('a stage line it cannot read names the line', () => {
    const bad = load('icmp-new').replace(', priority 50, uuid ', ', prio 50, uuid ');
    expect(() => parseOvnTrace(bad)).toThrow(OvnTraceParseError);
    expect(() => parseOvnTrace(bad)).toThrow(/at line 5:/);
    expect(() => parseOvnTrace('# icmp\n\nnothing here\n')).toThrow(/no pipeline header/);
  });
});
