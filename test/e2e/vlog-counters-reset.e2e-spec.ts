// Counters that go backwards under one UFID, with the vswitchd log as the only source
// (LIVETRACE_POLLER=false), on a real sandbox's userspace datapath. A flow deleted without a log line
// (the userspace datapath logs none: vlog-gone-check.ts) and installed again by the next packet, with
// the same key (so the same UFID: the hash's secret is the process's) and the same actions (a
// bridge's NORMAL flow, no recirculation id to move on), logs a flow_add the source took for the
// flow put again: the old lifetime went on, and the next check wrote counters lower than the ones it
// held. As the poller does (datapath-diff.ts counters_reset), falling counters end the lifetime at
// the check that found them, and the flow installed then is a new one, first seen at that check.
// The flow found then carries the actions the check read: installed again with other actions (here
// an OpenFlow rule added while dpif_netdev's debug lines are off, so no flow_add tells it), the new
// lifetime is recorded with those, not the old lifetime's.
// (Across an ovs-vswitchd restart the UFIDs change: lib/odp-util.c odp_flow_key_hash draws its
// secret once per process, so a restart cannot continue a lifetime.)
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { VlogSourceService } from '../../src/collectors/vlog-source.service';
import type { DatapathFlowJson } from '../../src/datapath-flows/datapath-flow-json';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
import { whileSending } from '../support/steady-traffic';
import { waitFor } from '../support/wait';

jest.setTimeout(240_000);

type Lifetime = DatapathFlowJson;

describe('vlog-only lifetimes whose counters go backwards', () => {
  let sb: Sandbox;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    sb = await Sandbox.start();
    await sb.demoTopology();
    // A plain bridge on the same datapath as br-int: NORMAL, no recirculation.
    await sb.plainBridge('netdev');
  });

  let http: ReturnType<typeof request>;
  let source: VlogSourceService;
  let xp1: number;
  // Each case its own destination MAC: NORMAL's megaflows match on the MACs, not on UDP ports.
  const macOf = (dst: number) => `50:54:00:00:0a:${(dst - 4998).toString(16).padStart(2, '0')}`;
  const packetTo = (dst: number) =>
    `in_port(${xp1}),eth(src=50:54:00:00:0a:01,dst=${macOf(dst)}),eth_type(0x0800),ipv4(src=10.9.0.1,dst=10.9.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=4000,dst=${dst})`;
  const installed = async (dst: number) =>
    new RegExp(`^ufid:([0-9a-f-]{36}), .*in_port\\(xp1\\).*,dst=${macOf(dst)}[/,)].*, packets:(\\d+),.* actions:(.*?)(?:, dp-extra-info:.*)?$`, 'm').exec(await sb.appctl('dpctl/dump-flows', '-m'));
  const lifetimes = async (ufid: string) => {
    await source.settle();
    const r = await http.get(`/datapath-flows/${ufid}`);
    return r.status === 200 ? (r.body.lifetimes as Lifetime[]) : [];
  };
  /** One packet a second to `dst` while `body` runs: its flow stays installed past its max-idle (10 s). */
  const sending = <T>(dst: number, body: () => Promise<T>): Promise<T> => whileSending(() => sb.inject('xp1', packetTo(dst), 1), body);
  /** The flow to `dst` installed, 40 packets at once, and a check that read them (a max-idle after the install). */
  const counted = async (dst: number) => {
    await sb.inject('xp1', packetTo(dst), 40);
    const before = await waitFor('the flow installed', () => installed(dst)).catch(async (err: Error) => {
      throw new Error(`${err.message}; dump: ${await sb.appctl('dpctl/dump-flows', '-m')}`);
    });
    const ufid = before[1];
    const lifetime = await waitFor('a check read its counters', async () => (await lifetimes(ufid)).find((l) => l.packets >= 40), 60_000);
    return { ufid, actions: before[3], lifetime };
  };
  /** Deleted with no log line (revalidator/purge; the userspace datapath logs none), then installed again by the next packet: same UFID, counting from 1. */
  const purgedAndBack = async (dst: number, ufid: string) => {
    await sb.appctl('revalidator/purge');
    return waitFor('the flow installed again', async () => {
      const m = await installed(dst);
      return m && m[1] === ufid && Number(m[2]) < 10 ? m : undefined;
    }, 30_000);
  };
  const twoLifetimes = async (ufid: string) => {
    const seen: number[] = [];
    return waitFor('two lifetimes of the UFID', async () => {
      const l = await lifetimes(ufid);
      seen.push(l[0]?.packets);
      return l.length >= 2 ? l : undefined;
    }, 45_000).catch((err: Error) => {
      throw new Error(`${err.message}; one lifetime, its packets ${[...new Set(seen)].join(' → ')}`);
    });
  };

  beforeAll(async () => {
    app = await startApp({ ...sb.env, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: join(sb.dir, 'ovs-vswitchd.log'), LIVETRACE_VLOG_SET_LEVELS: 'true' });
    http = request(app.getHttpServer());
    source = app.get(VlogSourceService);
    xp1 = (await sb.dpPorts()).get('xp1')!;
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it('a flow deleted unlogged and installed again (same UFID, same actions) is a new lifetime; the old one ends as counters_reset', async () => {
    await sending(5000, async () => {
      const { ufid, actions, lifetime } = await counted(5000);
      const after = await purgedAndBack(5000, ufid);
      expect(after[3]).toBe(actions);
      const both = await twoLifetimes(ufid);
      expect(both.map((l) => [l.source, l.state, l.actions, l.removalReason])).toEqual([
        ['vlog', 'live', both[1].actions, null],
        ['vlog', 'removed', both[1].actions, 'counters_reset'],
      ]);
      expect(both[1].id).toBe(lifetime.id);
      expect(both[0].packets).toBeLessThan(lifetime.packets);
      // Ended when found so, and the new one first seen then.
      expect(both[0].firstSeen).toBe(both[1].removedAt);
    });
  });

  it('installed again with other actions and no log line of it, the new lifetime carries the actions the check read', async () => {
    await sending(5001, async () => {
      const { ufid, lifetime } = await counted(5001);
      // (The dump names ports; the lifetime holds the log's numbers.)
      expect(lifetime.actions).not.toBe('drop');
      // No flow_add line from here on; then an OpenFlow rule that drops this flow's packets.
      await sb.appctl('vlog/set', 'dpif_netdev:file:info');
      try {
        await sb.tool('ovs-ofctl', 'add-flow', 'brx', 'priority=100,udp,tp_dst=5001,actions=drop');
        const after = await purgedAndBack(5001, ufid);
        expect(after[3]).toBe('drop');
        const both = await twoLifetimes(ufid);
        expect(both.map((l) => [l.state, l.actions, l.removalReason])).toEqual([
          ['live', 'drop', null],
          ['removed', lifetime.actions, 'counters_reset'],
        ]);
        expect(both[1].id).toBe(lifetime.id);
      } finally {
        await sb.appctl('vlog/set', 'dpif_netdev:file:dbg');
      }
    });
  });
});
