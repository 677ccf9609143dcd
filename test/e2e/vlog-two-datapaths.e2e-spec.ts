// A chassis with two datapaths (br-int's, and a bridge of another datapath_type beside it), the
// vswitchd log as the only source (LIVETRACE_POLLER=false). The log's flow_add lines of the userspace
// datapath name no datapath, so a lifetime no line ended is checked with one dpctl/get-flow
// (vlog-gone-check.ts). That was asked of br-int's datapath alone: a flow of the other datapath,
// installed and carrying packets, read "No such file or directory" there and its lifetime ended as
// gone_unlogged. ovs-appctl's dpctl/get-flow opens the datapath named in its first argument and,
// without one, the only datapath there is, or fails with "multiple datapaths, specify one" (lib/dpctl.c
// opt_dpif_open, get_one_dp): each datapath must be asked, and a flow is gone only when none has it.
// Real daemons: the sandbox's ovs-vswitchd (br-int on netdev@ovs-netdev) with a bridge of type
// system added (the dummy override makes it system@ovs-system, userspace too), packets injected on its dummy port.
// Then a third datapath dpif/show would list that dpctl no longer finds (removed under vswitchd; a
// userspace sandbox cannot make one, so the service's datapath list has it added, and ovs-vswitchd
// answers for it as it does: "datapath not found (Invalid argument)"): gone needed every datapath to
// say not-found, so no flow ever read gone again; once it has refused consistently it holds no flow
// (vlog-gone-check.ts DatapathAnswers), and a flow still installed stays live.
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { VlogSourceService } from '../../src/collectors/vlog-source.service';
import { VswitchdService } from '../../src/collectors/vswitchd.service';
import type { DatapathFlowJson } from '../../src/datapath-flows/datapath-flow-json';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(180_000);

type Lifetime = DatapathFlowJson;

describe('vlog-only lifetimes on a chassis with two datapaths', () => {
  let sb: Sandbox;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    sb = await Sandbox.start();
    await sb.demoTopology();
    await sb.plainBridge('system');
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it('a flow of the datapath that is not br-int\'s, still installed, stays live when checked', async () => {
    const show = await sb.appctl('dpif/show');
    expect(show).toMatch(/^netdev@ovs-netdev:/m);
    expect(show).toMatch(/^system@ovs-system:/m);
    app = await startApp({ ...sb.env, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: join(sb.dir, 'ovs-vswitchd.log'), LIVETRACE_VLOG_SET_LEVELS: 'true' });
    const http = request(app.getHttpServer());
    const source = app.get(VlogSourceService);
    const xp1 = (await sb.dpPorts()).get('xp1')!;
    const packet = `in_port(${xp1}),eth(src=50:54:00:00:0a:01,dst=50:54:00:00:0a:02),eth_type(0x0800),ipv4(src=10.9.0.1,dst=10.9.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=4000,dst=5000)`;
    // Packets keep coming (every second): the flow stays installed past its max-idle (10 s).
    let sending = true;
    const traffic = (async () => {
      while (sending) {
        await sb.inject('xp1', packet, 1).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    try {
      const ufid = await waitFor('the flow installed in system@ovs-system', async () => /^ufid:([0-9a-f-]{36}), .*in_port\(xp1\)/m.exec(await sb.appctl('dpctl/dump-flows', '-m', 'system@ovs-system'))?.[1]);
      const first: Lifetime = await waitFor('its vlog lifetime', async () => {
        await source.settle();
        const r = await http.get(`/datapath-flows/${ufid}`);
        return r.status === 200 ? r.body.lifetimes[0] : undefined;
      });
      expect(first).toMatchObject({ source: 'vlog', state: 'live' });
      // The first check comes a max-idle after the log line (12 s): found installed, it moves
      // lastSeen; found gone, it ends the lifetime.
      const checked: Lifetime = await waitFor('the first check of its lifetime', async () => {
        await source.settle();
        const l = (await http.get(`/datapath-flows/${ufid}`)).body.lifetimes[0] as Lifetime;
        return l.state !== 'live' || l.lastSeen !== first.lastSeen ? l : undefined;
      }, 60_000);
      // Still installed when checked.
      expect(await sb.appctl('dpctl/dump-flows', '-m', 'system@ovs-system')).toContain(`ufid:${ufid}`);
      expect([checked.id, checked.state, checked.removalReason]).toEqual([first.id, 'live', null]);
    } finally {
      sending = false;
      await traffic;
    }
  });

  it('a datapath dpctl no longer finds does not keep a flow that went idle from reading gone; one still installed stays live', async () => {
    app ??= await startApp({ ...sb.env, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: join(sb.dir, 'ovs-vswitchd.log'), LIVETRACE_VLOG_SET_LEVELS: 'true' });
    const http = request(app.getHttpServer());
    const source = app.get(VlogSourceService);
    const vswitchd = app.get(VswitchdService);
    const listed = vswitchd.datapaths.bind(vswitchd);
    jest.spyOn(vswitchd, 'datapaths').mockImplementation(async (bridge?: string) => [
      ...(await listed(bridge)),
      { name: 'netdev@ovs-removed', type: 'netdev', hit: 0, missed: 0, bridges: [] },
    ]);
    await expect(sb.appctl('dpctl/get-flow', 'netdev@ovs-removed', 'ufid:69e5d83f-02e2-4116-8b20-929856faa0d0')).rejects.toThrow(/datapath not found \(Invalid argument\)/);
    const xp1 = (await sb.dpPorts()).get('xp1')!;
    const packet = (mac: string) =>
      `in_port(${xp1}),eth(src=50:54:00:00:0a:01,dst=${mac}),eth_type(0x0800),ipv4(src=10.9.0.1,dst=10.9.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=4000,dst=5000)`;
    const ufidOf = async (mac: string) => new RegExp(`^ufid:([0-9a-f-]{36}), .*in_port\\(xp1\\).*,dst=${mac}[/,)]`, 'm').exec(await sb.appctl('dpctl/dump-flows', '-m', 'system@ovs-system'))?.[1];
    const lifetime = async (ufid: string): Promise<Lifetime | undefined> => {
      await source.settle();
      const r = await http.get(`/datapath-flows/${ufid}`);
      return r.status === 200 ? r.body.lifetimes[0] : undefined;
    };
    // Flow A: one packet, then idle (revalidators delete it after 10 s, and no log line says so).
    // Flow B: a packet a second, installed throughout.
    await sb.inject('xp1', packet('50:54:00:00:0a:0a'), 1);
    let sending = true;
    const traffic = (async () => {
      while (sending) {
        await sb.inject('xp1', packet('50:54:00:00:0a:0b'), 1).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    try {
      const a = await waitFor('flow A installed', () => ufidOf('50:54:00:00:0a:0a'));
      const b = await waitFor('flow B installed', () => ufidOf('50:54:00:00:0a:0b'));
      await waitFor('both lifetimes', async () => (await lifetime(a)) && (await lifetime(b)));
      const ended = await waitFor('flow A ended', async () => {
        const l = await lifetime(a);
        return l?.state !== 'live' ? l : undefined;
      }, 90_000).catch(async (err: Error) => {
        throw new Error(`${err.message}: still ${JSON.stringify(await lifetime(a))}; A installed: ${!!(await ufidOf('50:54:00:00:0a:0a'))}`);
      });
      expect([ended?.state, ended?.removalReason]).toEqual(['removed', 'gone_unlogged']);
      expect(await ufidOf('50:54:00:00:0a:0a')).toBeUndefined();
      // B, checked all along beside the mute datapath, found installed each time.
      expect(await ufidOf('50:54:00:00:0a:0b')).toBe(b);
      expect(await lifetime(b)).toMatchObject({ state: 'live', removalReason: null });
    } finally {
      sending = false;
      await traffic;
    }
  });
});
