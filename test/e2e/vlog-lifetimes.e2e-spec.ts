// Datapath flow lifetimes from the vswitchd log alone (LIVETRACE_POLLER=false) on a real sandbox:
// after revalidator/purge the same ICMP echo installs the same first-pass UFID again with another
// recirculation id (recirc(0x1) became recirc(0x3) here); that is a new lifetime with the new
// actions, the old one ended as actions_changed, never one lifetime showing actions no longer installed.
// And the userspace datapath logs no deletion (dpif_netdev: flow_add and flow_mod only): a lifetime
// ends once one dpctl/get-flow finds its flow gone (src/collectors/vlog-gone-check.ts), at the time of
// that check, never before the flow was last seen installed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { VlogSourceService } from '../../src/collectors/vlog-source.service';
import type { DatapathFlowJson } from '../../src/datapath-flows/datapath-flow-json';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(180_000);

const ICMP = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)';

type Lifetime = DatapathFlowJson;

describe('vlog-only lifetimes of a UFID installed again', () => {
  let sb: Sandbox;
  let app: INestApplication | undefined;
  /** The first pass's UFID, live after the first case. */
  let ufid: string | undefined;

  beforeAll(async () => {
    sb = await Sandbox.start();
    await sb.demoTopology();
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it('a UFID back with other actions is a new lifetime', async () => {
    app = await startApp({ ...sb.env, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: join(sb.dir, 'ovs-vswitchd.log'), LIVETRACE_VLOG_SET_LEVELS: 'true' });
    const http = request(app.getHttpServer());
    const source = app.get(VlogSourceService);
    const vif1 = (await sb.dpPorts()).get('vif1')!;
    const firstPass = async () => /^ufid:([0-9a-f-]{36}), .*recirc_id\(0\),.*in_port\(vif1\).*actions:(ct\(zone=\d+\),recirc\(0x[0-9a-f]+\))/m.exec(await sb.appctl('dpctl/dump-flows', '-m'));

    await sb.inject('vif1', `in_port(${vif1}),${ICMP}`, 1);
    const before = await waitFor('the first pass installed', firstPass);
    ufid = before[1];
    await waitFor('its vlog lifetime', async () => {
      await source.settle();
      return (await http.get(`/datapath-flows/${ufid}`)).status === 200;
    });

    await sb.appctl('revalidator/purge');
    await sb.inject('vif1', `in_port(${vif1}),${ICMP}`, 1);
    const after = await waitFor('the first pass installed again', async () => {
      const m = await firstPass();
      return m && m[1] === ufid ? m : undefined;
    });
    expect(after[2]).not.toBe(before[2]); // the recirculation id moved on

    const lifetimes: Lifetime[] = await waitFor('two lifetimes of the UFID', async () => {
      await source.settle();
      const l = (await http.get(`/datapath-flows/${ufid!}`)).body.lifetimes as Lifetime[];
      return l.length >= 2 ? l : undefined;
    }, 20_000);
    expect(lifetimes.map((l) => [l.source, l.state, l.actions, l.removalReason])).toEqual([
      ['vlog', 'live', after[2], null],
      ['vlog', 'removed', before[2], 'actions_changed'],
    ]);
  });

  it('a flow the datapath deleted without a log line ends when a check finds it gone, at that check (review: it stayed live for good)', async () => {
    if (!app || !ufid) throw new Error('needs the first case');
    const http = request(app.getHttpServer());
    const source = app.get(VlogSourceService);
    const installed = async () => (await sb.appctl('dpctl/dump-flows', '-m')).includes(`ufid:${ufid}`);
    // No more packets: the revalidators delete it after max-idle (10 s). Note the last moment it was there.
    let lastThere = Date.now();
    await waitFor('the datapath to delete it', async () => {
      if (await installed()) lastThere = Date.now();
      else return true;
    }, 30_000);
    const live = (await http.get(`/datapath-flows/${ufid}`)).body.lifetimes[0] as Lifetime;
    const ended: Lifetime = await waitFor('its lifetime ended', async () => {
      await source.settle();
      const l = (await http.get(`/datapath-flows/${ufid}`)).body.lifetimes[0] as Lifetime;
      return l.state === 'removed' ? l : undefined;
    }, 30_000);
    expect([ended.id, ended.source, ended.removalReason]).toEqual([live.id, 'vlog', 'gone_unlogged']);
    // Found gone by a check: after the flow was last seen installed, by us and by the service.
    expect(Date.parse(ended.removedAt!)).toBeGreaterThanOrEqual(lastThere - 1000);
    expect(ended.removedAt! >= ended.lastSeen).toBe(true);
    // The premise: nothing in the log said so.
    expect(readFileSync(join(sb.dir, 'ovs-vswitchd.log'), 'utf8')).not.toMatch(new RegExp(`flow_del\\S* ufid:${ufid}`));
  });
});
