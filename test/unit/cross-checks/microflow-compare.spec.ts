// Microflow from a live path and the stage-by-stage comparison, on real live paths stored by the
// service (GET /paths/:id?include=steps) and the outputs of ovn-trace for them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareWithSimulation, LivePassWithSteps, LogicalFlowResolver } from '../../../src/cross-checks/compare';
import { buildMicroflow, flowToExpression, MicroflowError, ovnString } from '../../../src/cross-checks/microflow';
import { parseOvnTrace } from '../../../src/cross-checks/ovn-trace-parse';
import { ovnTraceArgs, OvnTraceUnavailableError, runOvnTrace, shellQuote } from '../../../src/cross-checks/ovn-trace-runner';

const DIR = join(__dirname, '../../fixtures/captured-ovn-trace/live');
const path = (name: string) => JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as { verdict: { kinds: string[]; logicalPorts: string[] }; passes: LivePassWithSteps[] };
const sim = (name: string) => parseOvnTrace(readFileSync(join(DIR, `${name}.ovn-trace.txt`), 'utf8'));
/** Resolves nothing: every live flow counts as gone from the southbound. */
const nothing: LogicalFlowResolver = () => [];
/** Resolves every live flow of the path as current. */
const current = (p: { passes: LivePassWithSteps[] }): LogicalFlowResolver => {
  const all = p.passes.flatMap((x) => x.steps ?? []).flatMap((s) => s.owners).filter((o) => o.table === 'Logical_Flow');
  return (prefix) =>
    all
      .filter((o) => o.uuid.startsWith(prefix))
      .map((o) => ({ uuid: o.uuid, stale: false, pipeline: o.pipeline!, tableId: o.tableId!, stage: o.stage ?? null, priority: o.priority!, match: o.match!, actions: o.actions! }));
};

describe('buildMicroflow', () => {
  it('takes inport, datapath, fields, TTL and one --ct per conntrack recirculation from a real ICMP path', () => {
    const m = buildMicroflow(path('icmp-path').passes);
    expect(m).toEqual({
      datapath: 'sw0',
      inport: 'lsp1',
      expression:
        'inport == "lsp1" && eth.src == 50:54:00:00:00:01 && eth.dst == 50:54:00:00:00:02 && ip4 && ip4.src == 10.0.0.1 && ip4.dst == 10.0.0.2 && ip.ttl == 64 && icmp4 && icmp4.type == 8 && icmp4.code == 0',
      ctStates: ['new,trk', 'new,trk'],
      lbDst: null,
      liveNat: null,
    });
  });

  it('quotes and escapes names inside the OVN expression', () => {
    expect(ovnString('we"ird\\ $(x);')).toBe('"we\\"ird\\\\ $(x);"');
    expect(flowToExpression('arp,in_port=1,dl_src=50:54:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=10.0.0.1,arp_tpa=10.0.0.2,arp_op=1', 'a"b')).toBe(
      'inport == "a\\"b" && eth.src == 50:54:00:00:00:01 && eth.dst == ff:ff:ff:ff:ff:ff && arp && arp.op == 1 && arp.spa == 10.0.0.1 && arp.tpa == 10.0.0.2',
    );
  });

  it('maps TCP ports and flags, IPv6 and ICMPv6', () => {
    expect(flowToExpression('tcp,in_port=1,dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:02,nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_tos=0,nw_ecn=0,nw_ttl=63,tp_src=1,tp_dst=22,tcp_flags=syn|ack', 'p')).toMatch(
      /ip\.ttl == 63 && tcp && tcp\.src == 1 && tcp\.dst == 22 && tcp\.flags == 0x012$/,
    );
    expect(flowToExpression('icmp6,in_port=1,dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:02,ipv6_src=fd00::1,ipv6_dst=fd00::2,nw_ttl=64,icmp_type=128,icmp_code=0', 'p')).toContain(
      'ip6 && ip6.src == fd00::1 && ip6.dst == fd00::2 && ip.ttl == 64 && icmp6 && icmp6.type == 128',
    );
    expect(() => flowToExpression('ip,nw_src=1.2.3.4 && 1', 'p')).toThrow(MicroflowError);
  });

  it('passes --lb-dst for an established load-balanced connection, not for a first packet', () => {
    const base = { logicalPorts: [{ name: 'lsp1', role: 'inport', scope: 'pass' as const, datapath: 'sw0', uuid: null, bindingUuid: null }] };
    const root = { ...base, recircId: '0x0', flow: 'tcp,in_port=1,nw_src=10.0.0.1,nw_dst=10.0.0.100,nw_ttl=64,tp_src=5,tp_dst=80', datapathActions: 'ct(zone=1,nat),recirc(0x1)' };
    const est = { ...base, recircId: '0x1', flow: 'recirc_id=0x1,ct_state=est|trk|dnat,tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_src=5,tp_dst=8080', datapathActions: '3' };
    expect(buildMicroflow([root, est])).toMatchObject({ ctStates: ['est,trk,dnat'], lbDst: '10.0.0.2:8080', liveNat: null });
    const first = { ...est, flow: est.flow.replace('est|trk|dnat', 'new|trk'), datapathActions: 'ct(commit,zone=1,mark=0x2/0x2,nat(dst=10.0.0.2:8080)),recirc(0x2)' };
    expect(buildMicroflow([root, first])).toMatchObject({ ctStates: ['new,trk'], lbDst: null, liveNat: '10.0.0.2:8080' });
  });

  it('refuses a path without an attributed inport, naming it', () => {
    const p = path('icmp-path').passes.map((x) => ({ ...x, logicalPorts: x.logicalPorts.filter((l) => l.role !== 'inport') }));
    expect(() => buildMicroflow(p)).toThrow(/no logical inport attributed to the first pass \(recirc_id 0x0\)/);
  });
});

describe('compareWithSimulation', () => {
  it('a real ICMP path and ovn-trace match; the stages ovn-trace omits are counted, not differences', () => {
    const p = path('icmp-path');
    const c = compareWithSimulation(p.passes, p.verdict, sim('icmp-path'), current(p));
    expect(c.result).toBe('match');
    expect(c.pipelines.map((x) => [x.pipeline, x.matched, x.simulatedStages])).toEqual([
      ['ingress', 7, 7],
      ['egress', 7, 7],
    ]);
    expect(c.pipelines[0].excused.omittedByOvnTrace).toEqual([1, 2, 3, 5, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 24]);
  });

  it('an ACL changed while ovn-controller lagged: the first differing stage, both flows, stale, and the verdicts', () => {
    const p = path('acl-changed-path');
    const c = compareWithSimulation(p.passes, p.verdict, sim('acl-changed'), nothing);
    expect(c.result).toBe('diverged');
    expect(c.divergence).toMatchObject({ pipeline: 'ingress', datapath: 'sw0', tableId: 4, stage: 'ls_in_pre_acl', live: { cookie: '0xaf710dde', stale: true }, simulated: null });
    expect(c.divergence!.explanation).toMatch(/stale/);
    expect(c.verdicts).toEqual({ live: { kinds: ['output'], logicalPorts: ['lsp2'] }, simulated: { outputs: [], dropped: true } });
  });

  it('a different logical flow at the same stage names both', () => {
    const p = path('icmp-path');
    const text = readFileSync(join(DIR, 'icmp-path.ovn-trace.txt'), 'utf8').replace('uuid 55f46eeb', 'uuid 0d1c9a2e');
    const c = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(text), current(p));
    expect(c.divergence).toMatchObject({ tableId: 8, stage: 'ls_in_acl', live: { cookie: '0x55f46eeb', stale: false, priority: 2001 }, simulated: { uuidPrefix: '0d1c9a2e' } });
    expect(c.divergence!.explanation).toMatch(/^At ingress\(dp="sw0"\) table 8 \(ls_in_acl\) the datapath ran logical flow 55f46eeb/);
  });

  it('identical logical flows sharing one OpenFlow rule are not a difference', () => {
    const p = path('icmp-path');
    const text = readFileSync(join(DIR, 'icmp-path.ovn-trace.txt'), 'utf8').replace('uuid 55f46eeb', 'uuid 0d1c9a2e');
    const live = current(p);
    const twin: LogicalFlowResolver = (prefix) => (prefix === '0d1c9a2e' ? live('55f46eeb').map((r) => ({ ...r, uuid: '0d1c9a2e-0000-0000-0000-000000000000' })) : live(prefix));
    const c = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(text), twin);
    expect(c.result).toBe('match');
    expect(c.pipelines[0].excused.sharedOpenflowRule).toEqual([8]);
  });
});

describe('ovn-trace runner', () => {
  const m = { datapath: '-sw0', inport: 'x', expression: 'inport == "x"', ctStates: ['new,trk'], lbDst: '10.0.0.2:80', liveNat: null };
  it('builds options first, then -- so no name is taken for an option; TLS as -p -c -C', () => {
    expect(ovnTraceArgs(m, { db: 'ssl:1.2.3.4:6642', tls: { privateKey: 'k', certificate: 'c', caCert: 'ca' }, leaderOnly: true })).toEqual([
      '--db=ssl:1.2.3.4:6642', '-p', 'k', '-c', 'c', '-C', 'ca', '--detailed', '--ct=new,trk', '--lb-dst=10.0.0.2:80', '--', '-sw0', 'inport == "x"',
    ]);
    expect(shellQuote(['ovn-trace', `it's $(x)`])).toBe(`ovn-trace 'it'\\''s $(x)'`);
  });

  it('a missing binary, a failing one and a slow one are OvnTraceUnavailableError naming the binary and its stderr', async () => {
    await expect(runOvnTrace('/nonexistent/ovn-trace', [], 5000)).rejects.toThrow(new OvnTraceUnavailableError('/nonexistent/ovn-trace', 'not found (set LIVETRACE_OVN_TRACE)', ''));
    await expect(runOvnTrace('/bin/sh', ['-c', 'echo "database connection failed" >&2; exit 1'], 5000)).rejects.toThrow('/bin/sh: exit status 1: database connection failed');
    await expect(runOvnTrace('/bin/sleep', ['5'], 200)).rejects.toThrow('/bin/sleep: timed out after 200 ms');
    await expect(runOvnTrace('/bin/echo', ['-n', '$(x) "q"'], 5000)).resolves.toBe('$(x) "q"');
  });
});
