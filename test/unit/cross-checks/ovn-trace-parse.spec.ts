// The parser of `ovn-trace --detailed` on real outputs of every supported pair's ovn-trace
// (scripts/capture-ovn-trace-fixtures --pair PAIR: test/fixtures/captured-ovn-trace/<version>/),
// plus the live paths stored by the service on OVN 23.03 (live/).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OvnTraceParseError, OvnTraceRefusedError, parseOvnTrace, simVerdict } from '../../../src/cross-checks/ovn-trace-parse';

const ROOT = join(__dirname, '../../fixtures/captured-ovn-trace');
const VERSIONS = readdirSync(ROOT).filter((d) => /^ovs-[\d.]+_ovn-[\d.]+$/.test(d));
/** OVN >= 23.09 evaluates ACLs in tiers: ls_*_acl_eval decides, ls_*_acl_action executes. */
const tiers = (v: string) => !/_ovn-23\.03\./.test(v);

it('captures exist for the three supported pairs', () => {
  expect(VERSIONS).toEqual(expect.arrayContaining(['ovs-3.1.0_ovn-23.03.1', 'ovs-3.5.0_ovn-25.03.0', 'ovs-4.0.0_ovn-26.03.1']));
});

describe.each(VERSIONS)('parseOvnTrace on %s', (version) => {
  const load = (name: string) => readFileSync(join(ROOT, version, `${name}.txt`), 'utf8');
  const traces = readdirSync(join(ROOT, version)).filter((f) => f.endsWith('.txt') && !f.endsWith('.stderr.txt') && f !== 'VERSION');

  it('reads every stage line of every trace (none skipped, none misread)', () => {
    for (const f of traces) {
      const text = readFileSync(join(ROOT, version, f), 'utf8');
      if (!text.startsWith('# ')) continue; // refusals: below
      const r = parseOvnTrace(text);
      const stageLines = text.split('\n').filter((l) => /^\s*\d{1,3}\. /.test(l)).length;
      expect([f, r.pipelines.reduce((n, p) => n + p.stages.length, 0)]).toEqual([f, stageLines]);
      for (const p of r.pipelines) for (const s of p.stages) expect([f, s.uuid === null || /^[0-9a-f]{8}$/.test(s.uuid)]).toEqual([f, true]);
    }
  });

  it('an ICMP echo: ingress and egress of sw0, the ACL stage of this version, two ct sections that took --ct', () => {
    const r = parseOvnTrace(load('icmp-new'));
    expect(r.pipelines.map((p) => [p.pipeline, p.datapath, p.inport, p.outport])).toEqual([
      ['ingress', 'sw0', 'lsp1', null],
      ['egress', 'sw0', 'lsp1', 'lsp2'],
    ]);
    expect(r.pipelines[0].stages[0]).toMatchObject({ table: 0, stage: 'ls_in_check_port_sec', match: '1', priority: 50 });
    const acl = r.pipelines[0].stages.find((s) => s.stage === (tiers(version) ? 'ls_in_acl_eval' : 'ls_in_acl'));
    expect(acl).toMatchObject({ match: 'reg0[7] == 1 && (inport == @pg_web && ip)', priority: 2001 });
    expect(r.sections.map((s) => [s.kind, s.consumesCt, s.defaulted, s.pipelineIndex])).toEqual([
      ['ct_lb_mark', true, false, 0],
      ['ct_lb_mark', true, false, 1],
    ]);
    expect(r.sections.map((s) => r.pipelines[s.resumesAt!.pipelineIndex].stages.find((x) => x.table === s.resumesAt!.table)?.stage)).toEqual([
      'ls_in_acl_hint',
      'ls_out_acl_hint',
    ]);
    expect(simVerdict(r)).toEqual({ outputs: ['lsp2'], dropped: false });
    // OVS untracks the packet after each ct_commit, until the next ct: after the ingress one up to
    // the egress ct, after the egress one to the end.
    const ingress = r.pipelines[0].stages;
    expect(ingress.filter((s) => s.ctCleared).map((s) => s.stage)).toEqual(['ls_in_l2_lkup']);
    expect(r.pipelines[1].stages.filter((s) => s.ctCleared).map((s) => s.stage)).toEqual([
      'ls_out_pre_acl', 'ls_out_pre_lb', 'ls_out_pre_stateful', 'ls_out_check_port_sec', 'ls_out_apply_port_sec',
    ]);
  });

  it("marks ct sections that used ovn-trace's default state (no --ct)", () => {
    const r = parseOvnTrace(load('icmp-default-ct'));
    expect(r.sections.length).toBeGreaterThan(0);
    expect(r.sections.every((s) => s.conntrack && s.defaulted && s.consumesCt)).toBe(true);
    expect(r.sections[0].title).toBe('ct_lb_mark /* default (use --ct to customize) */');
  });

  it('finds the drop of an ACL: a printed drop (23.03) or an acl_action stage after which nothing ran (tiers)', () => {
    const r = parseOvnTrace(load('acl-drop'));
    expect(r.drops).toHaveLength(1);
    if (tiers(version)) expect(r.drops[0].stage).toMatchObject({ stage: 'ls_out_acl_action', match: 'reg8[17] == 1', priority: 1000 });
    else expect(r.drops[0].stage).toMatchObject({ stage: 'ls_out_acl', priority: 3000, actions: ['drop;'] });
    expect(simVerdict(r)).toEqual({ outputs: [], dropped: true });
    expect(parseOvnTrace(load('icmp-new')).drops).toEqual([]);
  });

  it('a routed packet: six pipelines, patch outputs are not the end, one --ct taken, all after sw0 ct_commit cleared in OVS', () => {
    const r = parseOvnTrace(load('routed'));
    expect(r.pipelines.map((p) => `${p.pipeline}/${p.datapath}`)).toEqual(['ingress/sw0', 'egress/sw0', 'ingress/lr0', 'egress/lr0', 'ingress/sw1', 'egress/sw1']);
    expect(r.outputs.map((o) => o.type)).toEqual(['patch', 'patch', '']);
    expect(simVerdict(r).outputs).toEqual(['lsp4']);
    expect(r.sections.filter((s) => s.consumesCt)).toHaveLength(1);
    for (const p of r.pipelines.slice(1)) expect([p.datapath, p.pipeline, p.stages.every((s) => s.ctCleared)]).toEqual([p.datapath, p.pipeline, true]);
    // What the routed false alarm was: ovn-trace's egress ACL hint saw the ingress ct.new.
    expect(r.pipelines[1].stages.find((s) => s.stage === 'ls_out_acl_hint')?.match).toBe('ct.new && !ct.est');
  });

  it('a SNATed packet: the router NAT after the switch conntrack takes no --ct; a ct_next does', () => {
    const r = parseOvnTrace(load('snat'));
    const ct = r.sections.filter((s) => s.conntrack);
    expect(ct[0]).toMatchObject({ kind: 'ct_lb_mark', consumesCt: true, defaulted: false });
    const snat = ct.find((s) => s.kind === 'ct_snat');
    if (tiers(version)) {
      expect(snat).toMatchObject({ title: 'ct_snat(ip4.src=172.16.0.254)', consumesCt: false });
      expect(ct.find((s) => s.kind === 'ct_next')).toMatchObject({ consumesCt: true, defaulted: true });
    }
    expect(simVerdict(r).outputs).toEqual(['ln-public']);
  });

  it('a first packet to a load balancer VIP: three ct_lb_mark sections, each taking its --ct', () => {
    const r = parseOvnTrace(load('lb-vip'));
    const lb = r.pipelines[0].stages.find((s) => s.stage === 'ls_in_lb')!;
    expect(lb.match).toMatch(/ct\.new && ip4\.dst == 10\.0\.0\.100/);
    expect(lb.actions.at(-1)).toBe('ct_lb_mark(backends=10.0.0.2:80,10.0.0.3:80);');
    expect(r.sections.map((s) => [s.kind, s.consumesCt, s.defaulted])).toEqual([
      ['ct_lb_mark', true, false],
      ['ct_lb_mark', true, false],
      ['ct_lb_mark', true, false],
    ]);
  });

  it('reads a port name with quotes, a backslash and $( ) as ovn-trace prints it', () => {
    const r = parseOvnTrace(load('weird-port'));
    expect(r.pipelines[0]).toMatchObject({ pipeline: 'ingress', datapath: 'sw0', inport: 'we"ird\\ $(x);' });
  });

  it('a refused microflow (stdout, exit 0) is an OvnTraceRefusedError with its message', () => {
    expect(() => parseOvnTrace(load('unknown-datapath'))).toThrow(new OvnTraceRefusedError('unknown datapath "nosuchdp"'));
    expect(() => parseOvnTrace(load('parse-error'))).toThrow(/error parsing flow: Syntax error/);
    // 23.03 aborts with nothing on stdout; later versions print a sentence.
    expect(() => parseOvnTrace(load('unknown-port'))).toThrow(OvnTraceRefusedError);
  });

  it('a stage line it cannot read names the line', () => {
    const bad = load('icmp-new').replace(', priority 50, uuid ', ', prio 50, uuid ');
    expect(() => parseOvnTrace(bad)).toThrow(OvnTraceParseError);
    expect(() => parseOvnTrace(bad)).toThrow(/at line 5:/);
    expect(() => parseOvnTrace('# icmp\n\nnothing here\n')).toThrow(/no pipeline header/);
  });
});

describe('parseOvnTrace on a live path cross-checked by the service (OVN 23.03)', () => {
  it('reads pipelines, stages with their uuid prefix, ct_next sections and the output', () => {
    const r = parseOvnTrace(readFileSync(join(ROOT, 'live/icmp-path.ovn-trace.txt'), 'utf8'));
    expect(r.flow).toMatch(/^icmp,reg14=0x1,/);
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
  });
});
