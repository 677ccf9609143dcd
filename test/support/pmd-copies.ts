// A userspace datapath with two PMD threads in a sandbox (OVS's tests/pmd.at set-up: dummy-pmd ports
// with several receive queues and other_config:pmd-cpu-mask), and what dpctl/dump-flows and
// dpif-netdev/pmd-rxq-show say of it: each PMD that receives a flow's packets installs its own copy
// of the flow (same UFID, own counters), listed under its `flow-dump from pmd on cpu core: N` header.
import type { INestApplication } from '@nestjs/common';
import { MAX_IDLE_MS } from '../../src/collectors/vlog-gone-check';
import type { DatapathFlowJson } from '../../src/datapath-flows/datapath-flow-json';
import { compareVersions } from './captured-model';
import { Sandbox } from './sandbox';
import { whileSending } from './steady-traffic';
import { waitFor } from './wait';

/**
 * The hooks of a spec on that datapath: a sandbox with pmdBridge before all, stopped after all with
 * every app the spec handed to `started` and did not close itself (`close`). `sb()` is the sandbox
 * once started.
 */
export function pmdSandbox(): { sb: () => Sandbox; started: (app: INestApplication) => INestApplication; close: (app: INestApplication) => Promise<void> } {
  let sb: Sandbox | undefined;
  const apps: INestApplication[] = [];
  beforeAll(async () => {
    sb = await Sandbox.start();
    await pmdBridge(sb);
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await sb?.stop();
  });
  return {
    sb: () => sb!,
    started: (app) => {
      apps.push(app);
      return app;
    },
    close: async (app) => {
      apps.splice(apps.indexOf(app), 1);
      await app.close();
    },
  };
}

/** PMDs on cores 0 and 1. */
const BOTH_PMDS = 'other_config:pmd-cpu-mask=3';

/**
 * PMDs that sleep while their queues are idle (load-based sleeping, at most 10 ms a poll): a PMD
 * busy-polls a core at 100 % otherwise, so two took both of these 2 cores for the whole spec, from
 * the service under test and from the suites beside it (a spec's checks came too late to see its
 * burst). The key is `pmd-maxsleep` in OVS 3.1, `pmd-sleep-max` from 3.2 (the old name warns).
 */
async function pmdSleep(sb: Sandbox): Promise<string> {
  const ovs = /\d+\.\d+\.\d+/.exec(await sb.appctl('version'))?.[0] ?? '0';
  return `other_config:${compareVersions(ovs, '3.2') >= 0 ? 'pmd-sleep-max' : 'pmd-maxsleep'}=10000`;
}

/** Bridge brp (netdev) with dummy-pmd ports p1 and p2 of 4 receive queues each, polled by PMDs on cores 0 and 1. */
export async function pmdBridge(sb: Sandbox): Promise<string> {
  return sb.vsctl('add-br', 'brp', '--', 'set', 'bridge', 'brp', 'datapath_type=netdev',
    '--', 'add-port', 'brp', 'p1', '--', 'set', 'interface', 'p1', 'type=dummy-pmd', 'options:n_rxq=4',
    '--', 'add-port', 'brp', 'p2', '--', 'set', 'interface', 'p2', 'type=dummy-pmd', 'options:n_rxq=4',
    '--', 'set', 'open_vswitch', '.', BOTH_PMDS, await pmdSleep(sb));
}

/**
 * Takes every copy but `keep`'s PMD's out of the datapath, that one left as it is, as the others idling
 * out would: the other PMD stopped (other_config:pmd-cpu-mask of `keep`'s core only; dpif-netdev
 * flushes a removed PMD's flow table, and its receive queues go to the PMD left), so the next dump
 * lists `ufid` under `keep` only. For the poller a dump is all there is, and this is what it reads
 * after an idle-out, without the timing: an idle-out under the default max-idle needs the kept copy
 * fed a packet a second, and a stall of a max-idle on a loaded host let that copy idle out too and be
 * installed again (fewer packets: rightly a new lifetime). dpctl/del-flow cannot: it takes no PMD
 * ('takes at most 2 arguments') and deletes every copy (OVS 3.1 and 4.0). `bothPmds` puts them back.
 */
export async function keepPmdCopyOnly(sb: Sandbox, ufid: string, keep: string): Promise<void> {
  await sb.vsctl('set', 'open_vswitch', '.', `other_config:pmd-cpu-mask=${(1 << Number(keep)).toString(16)}`);
  await waitFor(`${ufid} on PMD ${keep} only`, async () => {
    const c = copies(await sb.appctl('dpctl/dump-flows', '-m'), ufid);
    return c.length === 1 && c[0].core === keep ? c : undefined;
  });
}

/** PMDs on cores 0 and 1 again (after keepPmdCopyOnly); queuesByCore waits for both to poll. */
export const bothPmds = (sb: Sandbox): Promise<string> => sb.vsctl('set', 'open_vswitch', '.', BOTH_PMDS);

/** A UDP packet from p1 (ODP flow syntax for netdev-dummy/receive): brp's NORMAL floods it, one flow, no recirculation. */
export const pmdPacket = (port: number) =>
  `in_port(${port}),eth(src=50:54:00:00:0b:01,dst=50:54:00:00:0b:02),eth_type(0x0800),ipv4(src=10.8.0.1,dst=10.8.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=4000,dst=5000)`;

/** The copies of p1's flows in a dump (of `ufid` only, if given): the PMD core each is listed under and its packets, in dump order. */
export function copies(dump: string, ufid?: string): Array<{ core: string; ufid: string; packets: number }> {
  const out: Array<{ core: string; ufid: string; packets: number }> = [];
  let core = '';
  for (const line of dump.split('\n')) {
    const h = /^flow-dump from pmd on cpu core: (\d+)/.exec(line);
    if (h) core = h[1];
    const m = /^ufid:(\S+), .*in_port\(p1\).*, packets:(\d+),/.exec(line);
    if (m && (!ufid || m[1] === ufid)) out.push({ core, ufid: m[1], packets: Number(m[2]) });
  }
  return out;
}

/** A receive queue of p1 for each PMD core polling it (dpif-netdev/pmd-rxq-show), once both PMDs poll one. */
export function queuesByCore(sb: Sandbox): Promise<Map<string, string>> {
  return waitFor('two PMDs polling p1', async () => {
    const out = new Map<string, string>();
    let core = '';
    for (const line of (await sb.appctl('dpif-netdev/pmd-rxq-show')).split('\n')) {
      const h = /core_id (\d+):/.exec(line);
      if (h) core = h[1];
      const q = /port: p1\s+queue-id:\s+(\d+)/.exec(line);
      if (q && !out.has(core)) out.set(core, q[1]);
    }
    return out.size === 2 ? out : undefined;
  });
}

/** `n` copies of the packet into p1's receive queue `qid` (netdev-dummy/receive --qid: hence one PMD). */
export async function receiveOn(sb: Sandbox, qid: string, n: number): Promise<void> {
  const p1 = (await sb.dpPorts()).get('p1')!;
  await sb.appctl('netdev-dummy/receive', 'p1', '--qid', qid, ...Array<string>(n).fill(pmdPacket(p1)));
}

/**
 * The vswitchd log source's idle-out of the copy dpctl/get-flow reads (`sendRead`: packets through
 * it), a packet a second through the other copy (whileSending keeps it installed) throughout: a
 * `burst` through the read copy, a check that read it (`counted`), the read copy then left to idle
 * out (`copies`: no read copy in the dump, the other there), and a check after that, when only the
 * other copy can be read (`after`: the lifetimes then; `otherAfter`: the other copy's packets in a
 * dump after that check, no fewer than it read). The log source's specs keep the idle-out itself
 * (the revalidators delete that copy alone, its thread goes on), not a copy taken with its PMD
 * (keepPmdCopyOnly): the source keeps copies by thread, and the main thread's copy
 * (vlog-pmd-main-copy) has no PMD to take.
 *
 * The read copy is fed a packet a second too until a check has read the burst: the source checks a
 * lifetime a max-idle (and a 2 s margin) after its last known use, the install here, while the read
 * copy idles out a max-idle after the burst, which the set-up sends only a second or two after the
 * install. Left idle, it was deleted about as the first check came (checks read it 29.9 s and 30.2 s
 * idle under max-idle=30000), and a check that came after read the other copy, fewer packets than the
 * burst, the next a max-idle later: no check read the burst, and the burst's packets were never
 * counted (a copy's counters are read by checks alone). Every wait's deadline is a few of the checks'
 * periods under `maxIdleMs` (the max-idle vswitchd runs with), not a number of seconds.
 */
export function idleOutReadCopy(p: {
  burst: number;
  sendRead: (n: number) => Promise<unknown>;
  sendOther: () => Promise<unknown>;
  lifetimes: () => Promise<DatapathFlowJson[]>;
  copies: () => Promise<{ read?: number; other?: number }>;
  maxIdleMs?: number;
}): Promise<{ counted: DatapathFlowJson; after: DatapathFlowJson[]; otherAfter: number }> {
  // A check is due a max-idle and 2 s after the last known use; five such periods leave room for a loaded host.
  const within = 5 * ((p.maxIdleMs ?? MAX_IDLE_MS) + 2_000);
  return whileSending(p.sendOther, async () => {
    await p.sendRead(p.burst);
    const read0 = await waitFor('the burst counted by the read copy', async () => {
      const n = (await p.copies()).read;
      return n !== undefined && n >= p.burst ? n : undefined;
    }, within);
    const burstAt = Date.now();
    const counted = await whileSending(() => p.sendRead(1), async () => {
      const first = await waitFor('a check after the burst', async () => (await p.lifetimes()).find((l) => Date.parse(l.lastSeen) > burstAt), within);
      // The read copy was installed, fed, and held the burst: a check then read it (or the source lost it).
      if (first.packets < read0) throw new Error(`the first check after the burst read ${first.packets} packets, fewer than the read copy's ${read0}`);
      return first;
    });
    await waitFor('the read copy gone, the other there', async () => {
      const c = await p.copies();
      return c.read === undefined && c.other !== undefined;
    }, within);
    const goneAt = Date.now();
    const after = await waitFor('a check after the read copy left', async () => {
      const l = await p.lifetimes();
      return l.some((x) => Date.parse(x.lastSeen) > goneAt) ? l : undefined;
    }, within);
    const otherAfter = await waitFor('the other copy in a dump', async () => {
      const n = (await p.copies()).other;
      return n === undefined ? undefined : { n };
    }, within);
    return { counted, after, otherAfter: otherAfter.n };
  });
}
