// Counters that go backwards under one UFID, with the vswitchd log as the only source
// (LIVETRACE_POLLER=false), on a real sandbox's userspace datapath. A flow deleted without a log line
// (the userspace datapath logs none: vlog-gone-check.ts) and installed again by the next packet, with
// the same key (so the same UFID: the hash's secret is the process's) and the same actions (a
// bridge's NORMAL flow, no recirculation id to move on), logs a flow_add the source took for the
// flow put again: the old lifetime went on, and the next check wrote counters lower than the ones it
// held. As the poller does (datapath-diff.ts counters_reset), falling counters end the lifetime at
// the check that found them, and the flow installed then is a new one, first seen at that check.
// (Across an ovs-vswitchd restart the UFIDs change: lib/odp-util.c odp_flow_key_hash draws its
// secret once per process, so a restart cannot continue a lifetime.)
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { VlogSourceService } from '../../src/collectors/vlog-source.service';
import type { DatapathFlowJson } from '../../src/datapath-flows/datapath-flow-store';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
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

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it('a flow deleted unlogged and installed again (same UFID, same actions) is a new lifetime; the old one ends as counters_reset', async () => {
    app = await startApp({ ...sb.env, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: join(sb.dir, 'ovs-vswitchd.log'), LIVETRACE_VLOG_SET_LEVELS: 'true' });
    const http = request(app.getHttpServer());
    const source = app.get(VlogSourceService);
    const xp1 = (await sb.dpPorts()).get('xp1')!;
    const packet = `in_port(${xp1}),eth(src=50:54:00:00:0a:01,dst=50:54:00:00:0a:02),eth_type(0x0800),ipv4(src=10.9.0.1,dst=10.9.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=4000,dst=5000)`;
    const installed = async () => /^ufid:([0-9a-f-]{36}), .*in_port\(xp1\).*, packets:(\d+),.* actions:(.*)$/m.exec(await sb.appctl('dpctl/dump-flows', '-m'));
    const lifetimes = async (ufid: string) => {
      await source.settle();
      const r = await http.get(`/datapath-flows/${ufid}`);
      return r.status === 200 ? (r.body.lifetimes as Lifetime[]) : [];
    };
    let sending = true;
    const traffic = (async () => {
      while (sending) {
        await sb.inject('xp1', packet, 1).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    try {
      // 40 packets at once, then one a second: the first check (a max-idle after the install) reads 40 and more.
      await sb.inject('xp1', packet, 40);
      const before = await waitFor('the flow installed', installed).catch(async (err: Error) => {
        throw new Error(`${err.message}; dump: ${await sb.appctl('dpctl/dump-flows', '-m')}`);
      });
      const ufid = before[1];
      const counted = await waitFor('a check read its counters', async () => (await lifetimes(ufid)).find((l) => l.packets >= 40), 60_000);
      // Deleted with no log line (revalidator/purge; the userspace datapath logs no deletion), then
      // installed again by the next packet: same UFID, same actions, counting from 1.
      await sb.appctl('revalidator/purge');
      const after = await waitFor('the flow installed again', async () => {
        const m = await installed();
        return m && m[1] === ufid && Number(m[2]) < 10 ? m : undefined;
      }, 30_000);
      expect(after[3]).toBe(before[3]);
      const seen: number[] = [];
      const both = await waitFor('two lifetimes of the UFID', async () => {
        const l = await lifetimes(ufid);
        seen.push(l[0]?.packets);
        return l.length >= 2 ? l : undefined;
      }, 45_000).catch((err: Error) => {
        throw new Error(`${err.message}; one lifetime, its packets ${[...new Set(seen)].join(' → ')}`);
      });
      expect(both.map((l) => [l.source, l.state, l.actions, l.removalReason])).toEqual([
        ['vlog', 'live', both[1].actions, null],
        ['vlog', 'removed', both[1].actions, 'counters_reset'],
      ]);
      expect(both[1].id).toBe(counted.id);
      expect(both[0].packets).toBeLessThan(counted.packets);
      // Ended when found so, and the new one first seen then.
      expect(both[0].firstSeen).toBe(both[1].removedAt);
    } finally {
      sending = false;
      await traffic;
    }
  });
});
