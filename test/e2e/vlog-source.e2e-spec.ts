// Upcalls from ovs-vswitchd's own log on a real sandbox: the service raises dpif_netdev's file
// level, follows the log from its end, links each upcall of lsp1's packets to the datapath flow it
// installed (key under mask, joined to the poller's lifetime), survives a rename rotation
// (+ vlog/reopen) and a copy-truncate, and loses no upcall record the files contain unless
// vswitchd said it dropped messages. On shutdown the previous level is back.
import { readFileSync, renameSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { VlogSourceService } from '../../src/collectors/vlog-source.service';
import { parseVlogText } from '../../src/ovs/vlog';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(240_000);

const pkt = (from: number, to: number, l4: string, proto: number) =>
  `eth(src=50:54:00:00:00:0${from},dst=50:54:00:00:00:0${to}),eth_type(0x0800),ipv4(src=10.0.0.${from},dst=10.0.0.${to},proto=${proto},tos=0,ttl=64,frag=no),${l4}`;

interface UpcallItem {
  time: string;
  key: string;
  inPort: string;
  recircId: string;
  ufid: string | null;
  datapathFlowId: number | null;
  flow: { key: string } | null;
  sampled: boolean;
}

describe('upcalls from the vswitchd log', () => {
  let sb: Sandbox;
  let app: INestApplication | undefined;
  let http: ReturnType<typeof request>;
  let log: string;
  const vif = new Map<string, number>();

  const dpifNetdevFileLevel = async () => /^dpif_netdev\s+\S+\s+\S+\s+(\S+)/m.exec(await sb.appctl('vlog/list'))?.[1];
  const all = async (query: string): Promise<UpcallItem[]> => (await http.get(`/upcalls?limit=500&${query}`).expect(200)).body.items;

  beforeAll(async () => {
    sb = await Sandbox.start();
    await sb.demoTopology();
    log = join(sb.dir, 'ovs-vswitchd.log');
    for (const [name, port] of await sb.dpPorts()) vif.set(name, port);
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it('stores the upcalls of lsp1 packets linked to their datapath flows, across rotations, and restores the log level', async () => {
    expect(await dpifNetdevFileLevel()).toBe('INFO');
    app = await startApp({ ...sb.env, LIVETRACE_VLOG_FILE: log, LIVETRACE_VLOG_SET_LEVELS: 'true', LIVETRACE_POLL_INTERVAL_MS: '200' });
    http = request(app.getHttpServer());
    const source = app.get(VlogSourceService);
    expect(await dpifNetdevFileLevel()).toBe('DBG');
    const startOffset = statSync(log).size;
    const seen: string[] = [];

    // 1. An ICMP echo from lsp1: three passes (conntrack recirculations), three upcalls.
    await sb.inject('vif1', `in_port(${vif.get('vif1')}),${pkt(1, 2, 'icmp(type=8,code=0)', 1)}`, 1);
    const first = await waitFor('three linked upcalls of the echo, each joined to a poller lifetime', async () => {
      const items = await all(`linked=true`);
      return items.length >= 3 && items.every((u) => u.datapathFlowId !== null) ? items : undefined;
    });
    for (const u of first) {
      expect(u).toMatchObject({ inPort: String(vif.get('vif1')), sampled: true });
      const flow = (await http.get(`/datapath-flows/${u.ufid}`).expect(200)).body.lifetimes.find((l: { id: number }) => l.id === u.datapathFlowId);
      expect(flow).toMatchObject({ source: 'poller', recircId: u.recircId });
    }
    expect(new Set(first.map((u) => u.recircId)).size).toBe(3);
    expect(new Set(first.map((u) => u.ufid)).size).toBe(3);
    const list = (await http.get('/upcalls').expect(200)).body;
    expect(list.sampled).toBe(true);
    expect(list.logSource).toMatchObject({ enabled: true, droppedMessages: 0 });

    // 2. Rename rotation: the old file is finished, vlog/reopen starts a new one.
    seen.push(readFileSync(log, 'utf8').slice(startOffset));
    renameSync(log, log + '.1');
    await sb.inject('vif1', `in_port(${vif.get('vif1')}),${pkt(1, 2, 'udp(src=1000,dst=1234)', 17)}`, 1);
    await sb.appctl('vlog/reopen');
    await sb.inject('vif1', `in_port(${vif.get('vif1')}),${pkt(1, 2, 'tcp(src=1000,dst=22)', 6)}`, 1);
    await waitFor('upcalls written before and after vlog/reopen', async () => (await all('')).some((u) => /proto=6/.test(u.key)) && (await all('')).some((u) => /proto=17/.test(u.key)));
    seen[0] = readFileSync(log + '.1', 'utf8').slice(startOffset);

    // 3. copytruncate: once the follower has read everything, the file is emptied and written again.
    await waitFor('the follower to reach the end of the file', async () => {
      await source.settle();
      return source.fileFollower!.offset === statSync(log).size;
    });
    seen.push(readFileSync(log, 'utf8'));
    truncateSync(log, 0);
    // (another destination: OVN's megaflows wildcard the ports, so only a new address misses)
    await sb.inject('vif1', `in_port(${vif.get('vif1')}),${pkt(1, 3, 'icmp(type=8,code=0)', 1)}`, 1);
    await waitFor('upcalls after the truncation', async () => (await all('')).some((u) => /dst=10\.0\.0\.3,proto=1/.test(u.key)));
    const status = (await http.get('/upcalls').expect(200)).body.logSource;
    expect(status.rotations).toEqual({ renamed: 1, truncated: 1 });

    // Nothing the files hold is missing, unless vswitchd said it dropped messages.
    await source.settle();
    seen.push(readFileSync(log, 'utf8'));
    const inFiles = seen.flatMap((text) => parseVlogText(text).records.filter((r) => r.event?.type === 'upcall').map((r) => `${new Date(r.time).toISOString()} ${(r.event as { key: string }).key}`));
    await waitFor('every upcall of the files stored', async () => (await all('')).length >= inFiles.length - status.droppedMessages, 20_000);
    const stored = (await all('')).map((u) => `${u.time} ${u.key}`);
    const missing = inFiles.filter((x) => !stored.includes(x));
    console.log(`vlog e2e: ${inFiles.length} upcall records in the log files, ${stored.length} stored, ${missing.length} missing, ${status.droppedMessages} reported dropped`);
    expect(missing.length).toBeLessThanOrEqual(status.droppedMessages);
    expect(inFiles.length).toBeGreaterThanOrEqual(3 + 3);
    expect((await all('linked=true')).length).toBeGreaterThanOrEqual(6);

    await app.close();
    app = undefined;
    expect(await dpifNetdevFileLevel()).toBe('INFO');
  });
});
