// The vswitchd log source (LIVETRACE_POLLER=false) on a userspace datapath where one flow has a copy
// on a PMD and one in the non-PMD table (vlog-pmd-copies.ts copyHolder). A packet received on a PMD
// port and the same packet sent by a packet-out (executed by the main thread: dpif_netdev_execute on
// the NON_PMD_CORE_ID table) that recirculates through ct() install the same post-recirculation flow
// (same key, same UFID) in each table, and each logs its own flow_add: `dpif_netdev(pmd-c00/id:N)` and
// `dpif_netdev` (no thread). dpctl/get-flow answers the first copy it finds among the tables (the
// non-PMD one included; dpif_netdev_flow_get's hmapx, an order of the process's own): once the copy it
// read idled out, a check reads the other table's, fewer packets. Counting PMD threads only, the
// source took that for a flow deleted unlogged and installed again and ended the live lifetime
// counters_reset, whichever table get-flow read first.
// Real sandbox, tests/pmd.at's set-up (test/support/pmd-copies.ts), checked by hand on OVS 3.1.
import { join } from 'node:path';
import request from 'supertest';
import { VlogSourceService } from '../../src/collectors/vlog-source.service';
import type { DatapathFlowJson } from '../../src/datapath-flows/datapath-flow-json';
import { startApp } from '../support/app';
import { idleOutReadCopy, pmdSandbox, queuesByCore } from '../support/pmd-copies';
import { waitFor } from '../support/wait';

jest.setTimeout(240_000);

/** A UDP packet from 50:54:00:00:0b:01 / 10.8.0.1:4000 to 10.8.0.2:5000 as hex (netdev-dummy/receive and packet-out take it). */
function udpHex(): string {
  const payload = Buffer.alloc(10, 0x78);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(4000, 0);
  udp.writeUInt16BE(5000, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const ip = Buffer.from([0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 8, 0, 1, 10, 8, 0, 2]);
  ip.writeUInt16BE(20 + udp.length + payload.length, 2);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  return Buffer.concat([Buffer.from('505400000b02505400000b010800', 'hex'), ip, udp, payload]).toString('hex');
}

/** The copies of `ufid` in a dump: the table each is listed under (`main` or the PMD core) and its packets. */
function tables(dump: string, ufid: string): Array<{ table: string; packets: number }> {
  const out: Array<{ table: string; packets: number }> = [];
  let table = '';
  for (const line of dump.split('\n')) {
    if (/^flow-dump from the main thread/.test(line)) table = 'main';
    const h = /^flow-dump from pmd on cpu core: (\d+)/.exec(line);
    if (h) table = h[1];
    const m = new RegExp(`^ufid:${ufid}, .*, packets:(\\d+),`).exec(line);
    if (m) out.push({ table, packets: Number(m[1]) });
  }
  return out;
}

describe('vlog-only lifetimes of a flow with a copy on a PMD and one on the main thread', () => {
  const { sb: sandbox, started } = pmdSandbox();

  it('stay one live lifetime when the copy get-flow reads idles out and the other table\'s copy is read', async () => {
    const sb = sandbox();
    const byCore = await queuesByCore(sb);
    const [core, qid] = [...byCore][0];
    await sb.tool('ovs-ofctl', 'add-flow', 'brp', 'table=0,priority=10,ip,ct_state=-trk,actions=ct(table=1)');
    await sb.tool('ovs-ofctl', 'add-flow', 'brp', 'table=1,priority=10,ip,actions=output:p2');
    const app = started(await startApp({ ...sb.env, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: join(sb.dir, 'ovs-vswitchd.log'), LIVETRACE_VLOG_SET_LEVELS: 'true' }));
    const http = request(app.getHttpServer());
    const source = app.get(VlogSourceService);
    await source.settle();
    const hex = udpHex();
    const send: Record<string, (n: number) => Promise<unknown>> = {
      [core]: (n) => sb.appctl('netdev-dummy/receive', 'p1', '--qid', qid, ...Array<string>(n).fill(hex)),
      // The main thread: a packet-out through table 0 recirculates there (dpif_netdev_execute).
      main: async (n) => {
        for (let i = 0; i < n; i++) await sb.tool('ovs-ofctl', 'packet-out', 'brp', `in_port=p1 packet=${hex} actions=resubmit(,0)`);
      },
    };
    await send[core](1);
    await send.main(1);
    // The flow after ct's recirculation (recirc_id other than 0), in both tables, none counted (upcalls).
    const ufid = await waitFor('the recirculated flow in both tables', async () => {
      const dump = await sb.appctl('dpctl/dump-flows', '-m');
      const m = /^ufid:(\S+), .*recirc_id\(0x[0-9a-f]+\)/m.exec(dump);
      return m && tables(dump, m[1]).length === 2 ? m[1] : undefined;
    });
    expect(tables(await sb.appctl('dpctl/dump-flows', '-m'), ufid).map((c) => c.table).sort()).toEqual([core, 'main'].sort());
    // Which copy get-flow reads (the first table it finds holding one: an order of the process's own).
    await send[core](3);
    await waitFor('the PMD copy counted', async () => (tables(await sb.appctl('dpctl/dump-flows', '-m'), ufid).find((c) => c.table === core)?.packets === 3 ? true : undefined));
    const read = /packets:(\d+)/.exec(await sb.appctl('dpctl/get-flow', `ufid:${ufid}`))![1] === '3' ? core : 'main';
    const other = read === core ? 'main' : core;
    const lifetimes = async () => {
      await source.settle();
      const r = await http.get(`/datapath-flows/${ufid}`);
      return r.status === 200 ? (r.body.lifetimes as DatapathFlowJson[]) : [];
    };
    // The copy get-flow reads counts a burst, then idles once a check read it; the other gets a packet a second.
    // A check after the read copy idled out can read only the other table's copy, with fewer packets than the burst.
    const { counted, after, otherAfter } = await idleOutReadCopy({
      burst: 30,
      sendRead: (n) => send[read](n),
      sendOther: () => send[other](1),
      lifetimes,
      copies: async () => {
        const c = tables(await sb.appctl('dpctl/dump-flows', '-m'), ufid);
        return { read: c.find((x) => x.table === read)?.packets, other: c.find((x) => x.table === other)?.packets };
      },
    });
    // The check after read fewer packets than the lifetime had counted (the other copy's, no more than now).
    expect(otherAfter).toBeLessThan(counted.packets);
    expect(after.map((l) => [l.id, l.state, l.removalReason])).toEqual([[counted.id, 'live', null]]);
    expect(after[0].packets).toBeGreaterThanOrEqual(counted.packets);
  });
});
