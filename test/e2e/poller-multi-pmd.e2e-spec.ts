// Several PMD threads on the userspace datapath: each PMD that receives a flow's packets installs its
// own copy of the datapath flow, under the same UFID, with its own counters (lib/dpif-netdev.c: a
// flow table per PMD), and `dpctl/dump-flows` lists one line per copy under each PMD's header. The
// revalidators delete each copy on its own (a ukey per UFID and PMD), so a copy idles out on one PMD
// while another PMD's copy carries the traffic. The poller took the first line of a UFID for the
// flow: once the first-listed copy idled out, the other copy's smaller counters read as counters that
// fell, and the live flow's lifetime ended 'counters_reset'. A real sandbox with two PMDs
// (tests/pmd.at: dummy-pmd ports, options:n_rxq, other_config:pmd-cpu-mask; netdev-dummy/receive --qid
// picks the receive queue, hence the PMD). The copy leaves here by its PMD being taken away
// (pmd-copies.ts keepPmdCopyOnly): the dump an idle-out leaves, with no max-idle to race.
// A lifetime the service picks up again when it starts (its previous run left it open) knew only the
// stored total, which counts the copies that had left: the next dump's copies summed below it and the
// live lifetime ended 'counters_reset'. The copies are stored with the lifetime (pmd_copies).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { PollerService } from '../../src/collectors/poller.service';
import type { DatapathFlowJson } from '../../src/datapath-flows/datapath-flow-json';
import { startApp } from '../support/app';
import { bothPmds, copies, keepPmdCopyOnly, pmdSandbox, queuesByCore, receiveOn } from '../support/pmd-copies';
import { waitFor } from '../support/wait';

jest.setTimeout(240_000);

/** The lifetimes of `ufid` after a cycle of the app's poller. */
const lifetimesOf = (app: INestApplication, ufid: string) => async (): Promise<DatapathFlowJson[]> => {
  await app.get(PollerService).cycle();
  const r = await request(app.getHttpServer()).get(`/datapath-flows/${ufid}`);
  return r.status === 200 ? (r.body.lifetimes as DatapathFlowJson[]) : [];
};

describe('the poller on a userspace datapath with two PMD threads', () => {
  const { sb: sandbox, started, close } = pmdSandbox();

  it("a flow whose copy left one PMD while another PMD's copy carries packets stays one live lifetime", async () => {
    const sb = sandbox();
    const byCore = await queuesByCore(sb);
    const receive = (qid: string, n: number) => receiveOn(sb, qid, n);
    // One packet through each PMD (an upcall: not counted by the copy it installs): a copy on each, to
    // learn which one the dump lists first.
    // No copy idles out (the service's start takes seconds on a busy machine, and a copy that left
    // before the burst made its first packet an upcall: 29 counted): the copy that leaves is taken.
    await sb.keepFlows(120_000);
    for (const q of byCore.values()) await receive(q, 1);
    const both = await waitFor('a copy on each PMD', async () => {
      const c = copies(await sb.appctl('dpctl/dump-flows', '-m'));
      return c.length === 2 ? c : undefined;
    });
    const ufid = both[0].ufid;
    expect(both[1].ufid).toBe(ufid);
    const [idle, busy] = [byCore.get(both[0].core)!, byCore.get(both[1].core)!];

    const app = started(await startApp({ ...sb.env, LIVETRACE_POLL_INTERVAL_MS: '200' }));
    const lifetimes = lifetimesOf(app, ufid);
    // The first-listed copy counts many packets, then leaves; the other goes on.
    await receive(idle, 30);
    const counted = await waitFor('the lifetime counting the burst', async () => (await lifetimes()).find((l) => l.packets >= 30));
    try {
      await keepPmdCopyOnly(sb, ufid, both[1].core);
      // Two more packets through the busy copy, each seen by a cycle of its own.
      for (let i = 0; i < 2; i++) {
        const before = copies(await sb.appctl('dpctl/dump-flows', '-m'), ufid)[0].packets;
        await receive(busy, 1);
        await waitFor('the busy copy counting on', async () => copies(await sb.appctl('dpctl/dump-flows', '-m'), ufid)[0]?.packets > before);
        await lifetimes();
      }
      const after = await lifetimes();
      expect(after.map((l) => [l.id, l.state, l.removalReason])).toEqual([[counted.id, 'live', null]]);
      // Its counters: every copy's packets, the idled one's included.
      expect(after[0].packets).toBeGreaterThanOrEqual(30 + 2);
    } finally {
      await close(app);
      await bothPmds(sb);
    }
  });

  it('a lifetime whose copy left goes on after the service started again, that copy still counted', async () => {
    const sb = sandbox();
    // The service's two runs share their store: the second picks up what the first left open.
    const dir = mkdtempSync(join(tmpdir(), 'livetrace-pmd-restart-'));
    const env = { ...sb.env, LIVETRACE_POLL_INTERVAL_MS: '200', LIVETRACE_DB: join(dir, 'livetrace.sqlite'), LIVETRACE_SPOOL: join(dir, 'spool.sqlite') };
    const byCore = await queuesByCore(sb);
    const receive = (qid: string, n: number) => receiveOn(sb, qid, n);
    // No copy idles out (see above); the last case's flows deleted.
    await sb.keepFlows(120_000);
    await sb.appctl('revalidator/purge');
    for (const q of byCore.values()) await receive(q, 1);
    const both = await waitFor('a copy on each PMD', async () => {
      const c = copies(await sb.appctl('dpctl/dump-flows', '-m'));
      return c.length === 2 ? c : undefined;
    });
    const ufid = both[0].ufid;
    const [idle, busy] = [byCore.get(both[0].core)!, byCore.get(both[1].core)!];

    const first = started(await startApp(env));
    // A burst well above what the busy copy counts (a few packets).
    await receive(idle, 60);
    const counted = await waitFor('the lifetime counting the burst', async () => (await lifetimesOf(first, ufid)()).find((l) => l.packets >= 60));
    const idlePackets = copies(await sb.appctl('dpctl/dump-flows', '-m'), ufid).find((c) => c.core === both[0].core)!.packets;
    // The idle copy leaves while the busy one counts on, and the first run sees both.
    await keepPmdCopyOnly(sb, ufid, both[1].core);
    await receive(busy, 3);
    await waitFor('the first run counting the busy copy on', async () => (await lifetimesOf(first, ufid)()).find((l) => l.packets >= idlePackets + 3));
    await close(first);

    // Started again: the busy copy counts a few more, below the lifetime's total.
    const second = started(await startApp(env));
    await receive(busy, 2);
    const busyPackets = await waitFor('the busy copy counting the two', async () => {
      const c = copies(await sb.appctl('dpctl/dump-flows', '-m'), ufid);
      return c.length === 1 && c[0].packets >= 3 + 2 ? c[0].packets : undefined;
    });
    expect(busyPackets).toBeLessThan(idlePackets);
    const after = await lifetimesOf(second, ufid)();
    expect(after.map((l) => [l.id, l.state, l.removalReason])).toEqual([[counted.id, 'live', null]]);
    // Its counters: the copy that left before the restart and the one still installed.
    expect(after[0].packets).toBe(idlePackets + busyPackets);
    await bothPmds(sb);
    await sb.vsctl('remove', 'open_vswitch', '.', 'other_config', 'max-idle');
  });
});
