// A lifetime dpif_netdev logged installed, never found by a check, beside a kernel datapath that
// cannot answer (vlog-gone-check.ts checkFlowIn). A datapath that refuses ("getting flow (Invalid
// argument)": a kernel without UFID lookups, lib/dpif-netlink.c) may hold any flow, so it stood aside,
// once mute, only for a lifetime whose home (the datapath an earlier check found its flow in) said
// gone or left the list (ed3b0e7). A flow that idled out before its first check (a max-idle and its
// margin after its install: most short flows) never had a home, nor does any lifetime an agent
// restart read back: every check of it was "unknown", for ever, its lifetime open and checked every
// max-idle. Yet its flow_add line says where it lives: only lib/dpif-netdev.c logs flow_add/flow_mod,
// and a kernel datapath (type `system`, lib/dpif-netlink.c) holds none of the userspace datapath's
// flows, so its refusal vetoes nothing there. A lifetime read back at a restart has no line in
// memory: its stored key says whose line it was (loggedByDpifNetdev). Driven through VlogSourceService as it runs: the
// captured OVS 3.5 main-thread flow_add read from a file, the daemon's own dpctl_error texts, a real
// migrated SQLite; the checks' clock (Date.now) set to each check's time.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GONE_REASON, loggedByDpifNetdev } from '../../../src/collectors/vlog-gone-check';
import { VlogParser } from '../../../src/ovs/vlog';
import { versionDir, VERSIONS } from '../../support/captured-model';
import { openMigratedSqlite } from '../../support/migrated-sqlite';
import { ENOENT, firstFlowAdd, kernelLog, lifetimeRows, log35, NETDEV, NO_UFID, startVlogSource, SYSTEM, timeOf, vlogSourceSpec } from '../../support/vlog-source';

const [log, first, kernel] = [log35, firstFlowAdd, kernelLog];
/** A captured dpif_netdev flow_add whose megaflow matches skb_priority (set_queue), test/fixtures/captured-set-queue. */
const setQueue = join(__dirname, '../../fixtures/captured-set-queue/vswitchd.log');

describe('a userspace lifetime never found by a check, beside a kernel datapath that cannot answer', () => {
  const spec = vlogSourceSpec();

  /**
   * The lifetime `lines` install, checked as the service checks it every max-idle and its margin for a
   * minute; its rows. `restarted`: stored by a run of the service that then stopped (no check answered),
   * checked by the next one, which reads it back from the store with no line in memory.
   */
  async function checkedFor(lines: string[], restarted = false): Promise<unknown[]> {
    spec.m = await openMigratedSqlite('livetrace-vlog-userspace-line-');
    const asked: string[] = [];
    // The flow is in no userspace datapath (idled out before its first check); the kernel cannot look a UFID up.
    const call = async (command: string, args: string[]) => {
      asked.push(`${command} ${args[0]}`);
      throw args[0] === SYSTEM.name ? NO_UFID : ENOENT;
    };
    if (restarted) {
      const before = await startVlogSource(spec.m, async () => Promise.reject(new Error('ovs-vswitchd: timed out after 10000 ms')), [NETDEV, SYSTEM]);
      await before.append(lines);
      await before.source.onApplicationShutdown();
    }
    const running = await startVlogSource(spec.m, call, [NETDEV, SYSTEM]);
    spec.source = running.source;
    if (!restarted) await running.append(lines);
    // Past the three refusals over a max-idle that make the kernel datapath mute.
    for (let s = 12; s <= 72; s += 12) await running.checkAt(timeOf(lines[0]) + s * 1000);
    expect(asked).toContain(`dpctl/get-flow ${NETDEV.name}`);
    return lifetimeRows(spec.m);
  }

  it('ends gone_unlogged when the userspace datapath says gone, not "unknown" for ever', async () => {
    // The main thread's flow_add, its `flow match:`, and the line after them (the parser holds the last record).
    const lines = log.slice(first, first + 3);
    expect(await checkedFor(lines)).toEqual([{ removedAt: new Date(timeOf(lines[0]) + 12_000).toISOString(), reason: GONE_REASON }]);
  });

  it("a kernel put's lifetime is still vetoed by the kernel datapath that cannot answer (it may hold it)", async () => {
    const created = kernel.findIndex((l) => l.includes('put[create] ufid:'));
    expect(await checkedFor(kernel.slice(created, created + 2))).toEqual([{ removedAt: null, reason: null }]);
  });

  it('a lifetime read back at a restart, its flow_add line read by the run before: ends gone_unlogged too', async () => {
    const lines = log.slice(first, first + 3);
    expect(await checkedFor(lines, true)).toEqual([{ removedAt: new Date(timeOf(lines[0]) + 12_000).toISOString(), reason: GONE_REASON }]);
  });

  it("a kernel put's lifetime read back at a restart is still vetoed", async () => {
    const created = kernel.findIndex((l) => l.includes('put[create] ufid:'));
    expect(await checkedFor(kernel.slice(created, created + 2), true)).toEqual([{ removedAt: null, reason: null }]);
  });

  it("a set_queue flow's lifetime read back at a restart (its flow_add prints skb_priority) ends gone_unlogged too", async () => {
    const lines = readFileSync(setQueue, 'utf8').split('\n').filter(Boolean);
    expect(lines[0]).toContain('|dpif_netdev|DBG|flow_add: ');
    expect(await checkedFor(lines, true)).toEqual([{ removedAt: new Date(timeOf(lines[0]) + 12_000).toISOString(), reason: GONE_REASON }]);
  });

  it('tells the stored key of every captured dpif_netdev install line from every put line', () => {
    const files = [...VERSIONS.flatMap((v) => readdirSync(versionDir(v)).map((s) => join(versionDir(v), s, 'vswitchd.log'))), join(__dirname, '../../fixtures/documented/vlog-kernel/kernel.log'), setQueue];
    const seen = { netdev: 0, put: 0 };
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue; // a scenario without a log
      }
      const p = new VlogParser();
      for (const r of [...text.split('\n').flatMap((l) => p.pushLine(l).records), ...p.flush().records]) {
        const e = r.event;
        if (!e || (e.type !== 'flow_add' && e.type !== 'flow_mod' && e.type !== 'flow_put')) continue;
        seen[e.type === 'flow_put' ? 'put' : 'netdev']++;
        expect([e.type, loggedByDpifNetdev(e.key)]).toEqual([e.type, e.type !== 'flow_put']);
      }
    }
    expect(seen.netdev).toBeGreaterThan(100);
    expect(seen.put).toBeGreaterThan(0);
  });
});
