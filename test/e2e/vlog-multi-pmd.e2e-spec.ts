// The vswitchd log source (LIVETRACE_POLLER=false) on a userspace datapath with two PMD threads. Each
// PMD that receives a flow's packets installs its own copy (same UFID, own counters) and logs its own
// flow_add (thread pmd-cNN/id:M). The source reads a lifetime's counters with `dpctl/get-flow
// ufid:U`, which answers one copy: the first PMD found holding one (lib/dpctl.c dpctl_get_flow asks
// with PMD_ID_NULL; lib/dpif-netdev.c dpif_netdev_flow_get stops at the first PMD with a match). Once
// that copy idled out while the other PMD's copy carried the packets, the next check read the other
// copy's smaller counters, took them for a flow deleted unlogged and installed again, and ended the
// live flow's lifetime 'counters_reset'. Real sandbox, tests/pmd.at's set-up (test/support/pmd-copies.ts).
import { join } from 'node:path';
import request from 'supertest';
import { VlogSourceService } from '../../src/collectors/vlog-source.service';
import type { DatapathFlowJson } from '../../src/datapath-flows/datapath-flow-json';
import { startApp } from '../support/app';
import { copies, idleOutReadCopy, pmdSandbox, queuesByCore, receiveOn } from '../support/pmd-copies';
import { waitFor } from '../support/wait';

jest.setTimeout(240_000);

describe('vlog-only lifetimes on a userspace datapath with two PMD threads', () => {
  const { sb: sandbox, started } = pmdSandbox();

  it("a flow whose copy get-flow reads idled out while another PMD's copy carries packets stays one live lifetime", async () => {
    const sb = sandbox();
    const byCore = await queuesByCore(sb);
    const app = started(await startApp({ ...sb.env, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: join(sb.dir, 'ovs-vswitchd.log'), LIVETRACE_VLOG_SET_LEVELS: 'true' }));
    const http = request(app.getHttpServer());
    const source = app.get(VlogSourceService);
    await source.settle();
    // Three packets through one PMD (two counted: the first is the upcall's), one through the other
    // (none counted): get-flow's packets tell which copy it reads.
    const [a, b] = [...byCore.keys()];
    await receiveOn(sb, byCore.get(a)!, 3);
    await receiveOn(sb, byCore.get(b)!, 1);
    const both = await waitFor('a copy on each PMD', async () => {
      const c = copies(await sb.appctl('dpctl/dump-flows', '-m'));
      return c.length === 2 && c.some((x) => x.packets === 2) ? c : undefined;
    });
    const ufid = both[0].ufid;
    const read = /packets:(\d+)/.exec(await sb.appctl('dpctl/get-flow', `ufid:${ufid}`))![1] === '2' ? a : b;
    const other = read === a ? b : a;
    const lifetimes = async () => {
      await source.settle();
      const r = await http.get(`/datapath-flows/${ufid}`);
      return r.status === 200 ? (r.body.lifetimes as DatapathFlowJson[]) : [];
    };
    // The copy get-flow reads counts a burst, then idles once a check read it; the other gets a packet a second.
    // A check after the read copy idled out can read only the other copy.
    const { counted, after, otherAfter } = await idleOutReadCopy({
      burst: 30,
      sendRead: (n) => receiveOn(sb, byCore.get(read)!, n),
      sendOther: () => receiveOn(sb, byCore.get(other)!, 1),
      lifetimes,
      copies: async () => {
        const c = copies(await sb.appctl('dpctl/dump-flows', '-m'), ufid);
        return { read: c.find((x) => x.core === read)?.packets, other: c.find((x) => x.core === other)?.packets };
      },
    });
    // The check after read fewer packets than the lifetime had counted (the other copy's, no more than now).
    expect(otherAfter).toBeLessThan(counted.packets);
    expect(after.map((l) => [l.id, l.state, l.removalReason])).toEqual([[counted.id, 'live', null]]);
    // Its counters do not fall: the copy that left is still counted.
    expect(after[0].packets).toBeGreaterThanOrEqual(counted.packets);
  });
});
