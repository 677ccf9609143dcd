// Several PMD threads on the userspace datapath: each PMD that receives a flow's packets installs its
// own copy of the datapath flow, under the same UFID, with its own counters (lib/dpif-netdev.c: a
// flow table per PMD), and `dpctl/dump-flows` lists one line per copy under each PMD's header. The
// revalidators delete each copy on its own (a ukey per UFID and PMD), so a copy idles out on one PMD
// while another PMD's copy carries the traffic. The poller took the first line of a UFID for the
// flow: once the first-listed copy idled out, the other copy's smaller counters read as counters that
// fell, and the live flow's lifetime ended 'counters_reset'. A real sandbox with two PMDs
// (tests/pmd.at: dummy-pmd ports, options:n_rxq, other_config:pmd-cpu-mask; netdev-dummy/receive --qid
// picks the receive queue, hence the PMD).
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { PollerService } from '../../src/collectors/poller.service';
import type { DatapathFlowJson } from '../../src/datapath-flows/datapath-flow-store';
import { startApp } from '../support/app';
import { copies, pmdBridge, queuesByCore, receiveOn } from '../support/pmd-copies';
import { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(240_000);

describe('the poller on a userspace datapath with two PMD threads', () => {
  let sb: Sandbox;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    sb = await Sandbox.start();
    await pmdBridge(sb);
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it("a flow whose copy idled out on one PMD while another PMD's copy carries packets stays one live lifetime", async () => {
    const byCore = await queuesByCore(sb);
    const receive = (qid: string, n: number) => receiveOn(sb, qid, n);
    // One packet through each PMD (an upcall: not counted by the copy it installs): a copy on each, to
    // learn which one the dump lists first.
    // No copy idles out during the set-up (the service's start takes seconds on a busy machine, and a
    // copy that left before the burst made its first packet an upcall: 29 counted): max-idle goes
    // back to its 10 s once the burst is counted.
    await sb.vsctl('set', 'open_vswitch', '.', 'other_config:max-idle=120000');
    for (const q of byCore.values()) await receive(q, 1);
    const both = await waitFor('a copy on each PMD', async () => {
      const c = copies(await sb.appctl('dpctl/dump-flows', '-m'));
      return c.length === 2 ? c : undefined;
    });
    const ufid = both[0].ufid;
    expect(both[1].ufid).toBe(ufid);
    const [idle, busy] = [byCore.get(both[0].core)!, byCore.get(both[1].core)!];

    app = await startApp({ ...sb.env, LIVETRACE_POLL_INTERVAL_MS: '200' });
    const http = request(app.getHttpServer());
    const poller = app.get(PollerService);
    const lifetimes = async () => {
      await poller.cycle();
      const r = await http.get(`/datapath-flows/${ufid}`);
      return r.status === 200 ? (r.body.lifetimes as DatapathFlowJson[]) : [];
    };
    // The first-listed copy counts many packets, then idles; the other gets one a second.
    await receive(idle, 30);
    const counted = await waitFor('the lifetime counting the burst', async () => (await lifetimes()).find((l) => l.packets >= 30));
    await sb.vsctl('remove', 'open_vswitch', '.', 'other_config', 'max-idle');
    let sending = true;
    const traffic = (async () => {
      while (sending) {
        await receive(busy, 1).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    try {
      // The idle copy is deleted by the revalidators a max-idle (10 s) after its last packet.
      await waitFor('the idle copy gone, the busy one installed', async () => {
        const c = copies(await sb.appctl('dpctl/dump-flows', '-m'), ufid);
        return c.length === 1 && c[0].core === both[1].core ? c : undefined;
      }, 60_000);
      // Two more packets through the busy copy, each seen by a cycle of its own.
      for (let i = 0; i < 2; i++) {
        const before = copies(await sb.appctl('dpctl/dump-flows', '-m'), ufid)[0].packets;
        await waitFor('the busy copy counting on', async () => copies(await sb.appctl('dpctl/dump-flows', '-m'), ufid)[0]?.packets > before);
        await lifetimes();
      }
      const after = await lifetimes();
      expect(after.map((l) => [l.id, l.state, l.removalReason])).toEqual([[counted.id, 'live', null]]);
      // Its counters: every copy's packets, the idled one's included.
      expect(after[0].packets).toBeGreaterThanOrEqual(30 + 2);
    } finally {
      sending = false;
      await traffic;
    }
  });
});
