// Correlation on a live sandbox: our annotation (model over ReplicaFollower replicas of NB, SB and
// the local Open_vSwitch DB) against the real ovn-detrace run on the same ofproto/trace text; then
// ovn-controller paused, an ACL changed in the NB: the OpenFlow rules keep the old cookies and our
// annotation resolves them to the deleted (stale) logical flows, as they were.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { annotatePass } from '../../../src/correlation/annotate';
import { OvnModel } from '../../../src/ovn/ovn-model';
import { ReplicaFollower } from '../../../src/ovsdb/replica/follower';
import { Replica } from '../../../src/ovsdb/replica/replica';
import { parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';
import { NORTHBOUND, OPEN_VSWITCH, SOUTHBOUND } from '../../../src/replicas/ovn-tables';
import { Sandbox } from '../../support/sandbox';
import { waitFor } from '../../support/wait';
import { Agreement, compareWithDetrace } from '../../support/detrace-agreement';

jest.setTimeout(180_000);

const MAC = (i: number) => `50:54:00:00:00:0${i}`;
/** OpenFlow-syntax flows for ofproto/trace on br-int (the demo topology: lsp1..3 on vif1..3). */
const FLOWS = {
  icmp12: `icmp,in_port=1,dl_src=${MAC(1)},dl_dst=${MAC(2)},nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_ttl=64,icmp_type=8`,
  dns13: `udp,in_port=1,dl_src=${MAC(1)},dl_dst=${MAC(3)},nw_src=10.0.0.1,nw_dst=10.0.0.3,nw_ttl=64,udp_src=5353,udp_dst=53`,
  arp21: `arp,in_port=2,dl_src=${MAC(2)},dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=10.0.0.2,arp_tpa=10.0.0.1,arp_op=1,arp_sha=${MAC(2)}`,
  tcp3lb: `tcp,in_port=3,dl_src=${MAC(3)},dl_dst=${MAC(1)},nw_src=10.0.0.3,nw_dst=10.0.0.100,nw_ttl=64,tcp_src=40000,tcp_dst=80`,
};

function detrace(sb: Sandbox, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'ovn-detrace',
      [`--ovnnb=${sb.env.OVN_NB_DB}`, `--ovnsb=${sb.env.OVN_SB_DB}`, `--ovsdb=${sb.env.OVS_DB}`],
      { env: { ...process.env, ...sb.env }, timeout: 60_000, maxBuffer: 64 << 20 },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    );
    child.stdin!.end(text);
  });
}

describe('correlation on a live sandbox', () => {
  let sb: Sandbox;
  let followers: ReplicaFollower[] = [];
  let model: OvnModel;

  beforeAll(async () => {
    sb = await Sandbox.start({ prefix: 'livetrace-corr-' });
    await sb.hintTopology();
    const make = (name: string, spec: typeof NORTHBOUND, remote: string) => new ReplicaFollower(new Replica(name, spec), { remotes: remote }).start();
    followers = [make('OVN_Northbound', NORTHBOUND, sb.env.OVN_NB_DB), make('OVN_Southbound', SOUTHBOUND, sb.env.OVN_SB_DB), make('Open_vSwitch', OPEN_VSWITCH, sb.env.OVS_DB)];
    await Promise.all(followers.map((f) => f.waitSynced()));
    model = new OvnModel({ nb: followers[0].replica, sb: followers[1].replica, ovs: followers[2].replica });
  });

  afterAll(async () => {
    model?.dispose();
    for (const f of followers) f.close();
    await sb?.stop();
  });

  const trace = (flow: string) => sb.appctl('ofproto/trace', 'br-int', flow);

  it('agrees with ovn-detrace on every cookie step of live traces', async () => {
    const total: Agreement = { steps: 0, agree: 0, disagreements: [], extras: {}, passes: [] };
    for (const [name, flow] of Object.entries(FLOWS)) {
      const text = await trace(flow);
      const acc = compareWithDetrace(text, await detrace(sb, text), model);
      expect({ name, disagreements: acc.disagreements }).toEqual({ name, disagreements: [] });
      total.steps += acc.steps;
      total.agree += acc.agree;
      for (const [k, v] of Object.entries(acc.extras)) total.extras[k] = (total.extras[k] ?? 0) + v;
    }
    expect(total.steps).toBeGreaterThan(50);
    console.log(`live agreement: ${total.agree}/${total.steps} cookie steps equal to ovn-detrace; beyond it: ${JSON.stringify(total.extras)}`);
  });

  it('gives the verdicts of the demo topology: ICMP forwarded to lsp2, DNS to lsp3 dropped by the ACL', async () => {
    const pass = (t: string) => {
      const p = parseOfprotoTrace(t);
      if (p.kind !== 'trace') throw new Error(p.message);
      return p;
    };
    const dns = pass(await trace(FLOWS.dns13));
    // The drop happens after conntrack: in ofproto/trace's simulated continuation.
    const last = dns.continuations[dns.continuations.length - 1] ?? dns.pass;
    const v = annotatePass(last, model).verdict;
    expect(v.kind).toBe('drop');
    expect(v.dropBy?.hint).toMatchObject({ table: 'ACL', summary: expect.stringContaining('udp.dst == 53') });
  });

  it('resolves the old cookies to stale logical flows while ovn-controller is paused after an ACL change', async () => {
    const pid = readFileSync(join(sb.dir, 'ovn-controller.pid'), 'utf8').trim();
    const ctl = join(sb.env.OVN_RUNDIR ?? sb.dir, `ovn-controller.${pid}.ctl`);
    const appctl = (...args: string[]) => sb.tool('ovs-appctl', '-t', ctl, ...args);
    const before = parseOfprotoTrace(await trace(FLOWS.dns13));
    if (before.kind !== 'trace') throw new Error('no trace');
    const dropPass = before.continuations[before.continuations.length - 1];
    const dropStep = annotatePass(dropPass, model).verdict.dropBy!;
    const oldFlow = dropStep.logicalFlowUuid!;
    await appctl('debug/pause');
    try {
      const aclUuid = (await sb.nbctl('--bare', '--columns=_uuid', 'find', 'ACL', 'priority=1002')).trim();
      await sb.nbctl('set', 'ACL', aclUuid, 'priority=1003');
      // northd replaces the logical flow; our SB replica keeps the old one as a tombstone.
      await waitFor('the old ACL logical flow to be deleted from the SB replica', () => !followers[1].replica.get('Logical_Flow', oldFlow));
      const after = parseOfprotoTrace(await trace(FLOWS.dns13));
      if (after.kind !== 'trace') throw new Error('no trace');
      const annotated = annotatePass(after.continuations[after.continuations.length - 1], model);
      const step = annotated.steps[annotated.verdict.dropBy!.stepSeq];
      expect(step.owners).toEqual([expect.objectContaining({ table: 'Logical_Flow', uuid: oldFlow, stale: true })]);
      expect(step.owners[0].logicalFlow!.priority).toBe(2002); // as it was: ACL priority 1002 + 1000
      expect(annotated.verdict.kind).toBe('drop');
      const stale = annotated.steps.flatMap((s) => s.owners.filter((o) => o.stale));
      expect(stale.length).toBeGreaterThan(0);
    } finally {
      await appctl('debug/resume');
    }
  });
});
