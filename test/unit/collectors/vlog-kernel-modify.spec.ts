// The kernel datapath's revalidator changing a flow's actions in place (ofproto-dpif-upcall.c
// UKEY_MODIFY: a put with DPIF_FP_MODIFY, same UFID, counters kept), which lib/dpif.c logs as
// `<dpif>: put[modify] ufid:… <key>, actions:<new>` (log_flow_put_message). The vswitchd log source
// read a put only when it created a flow, so the lifetime went on with the actions the flow no longer
// had until a check read the others (5ffb993): ended then, at the check, not when the line said. A
// successful put[modify] is now read as dpif_netdev's flow_mod is: other actions end the lifetime
// actions_changed at that line and begin the next. Lines: test/fixtures/documented/vlog-kernel
// (written from lib/dpif.c's format strings, no kernel datapath here); the store a real migrated SQLite.
import { EventEmitter } from 'node:events';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { VlogSourceService } from '../../../src/collectors/vlog-source.service';
import { loadConfig } from '../../../src/config/config';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { UpcallStore } from '../../../src/upcalls/upcall-store';
import { UpcallsService } from '../../../src/upcalls/upcalls.service';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import { waitFor } from '../../support/wait';
import type { StoreWriter } from '../../../src/storage/writer';

const log = readFileSync(join(__dirname, '../../fixtures/documented/vlog-kernel/kernel.log'), 'utf8').split('\n');
const UFID = '1c09895c-baab-4295-bcb5-11562f9f524f';
const created = log.find((l) => l.includes(`put[create] ufid:${UFID}`))!;
const modified = log.find((l) => l.includes(`: put[modify] ufid:${UFID}`))!;
const actionsOf = (l: string) => /, actions:(.*)$/.exec(l)![1];

describe('the vswitchd log source on the kernel datapath', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  let source: VlogSourceService | undefined;
  afterEach(async () => {
    await source?.onApplicationShutdown();
    closeMigratedSqlite(m);
  });

  it("a put[modify] with other actions ends the lifetime actions_changed at its line and begins the next", async () => {
    expect(actionsOf(modified)).not.toBe(actionsOf(created));
    m = await openMigratedSqlite('livetrace-vlog-kernel-modify-');
    const file = join(m.dir, 'ovs-vswitchd.log');
    writeFileSync(file, '');
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: file });
    // Never asked within the spec (checks come a max-idle later); an error is nothing learnt.
    const call = async () => {
      throw new Error('not asked');
    };
    const dp = { name: 'system@ovs-system', type: 'system' };
    const vswitchd = Object.assign(new EventEmitter(), { call, datapath: async () => dp, datapaths: async () => [dp] });
    const store = { writer: m.writer, shipper: { state: { full: false } } };
    const metrics = new MetricsService();
    const upcallStore = new UpcallStore({ db: m.db });
    const upcalls = new UpcallsService(upcallStore, null as never, { chassisName: () => 'hv1' } as never);
    source = new VlogSourceService(config, vswitchd as never, upcalls, store as never, new DatapathFlowStore({ db: m.db }), upcallStore, metrics, new LifetimeSpoolBound(store as never, metrics));
    await source.onApplicationBootstrap();
    const rows = () =>
      m.db.prepare('SELECT first_seen AS firstSeen, removed_at AS removedAt, removal_reason AS reason, actions FROM datapath_flow WHERE ufid = ? ORDER BY id').all(UFID);

    // The line after each pushes it out (the parser holds the last record).
    appendFileSync(file, [created, modified, log[log.length - 2] ?? '', ''].join('\n'));
    await waitFor('the lines read', async () => {
      await source!.settle();
      return rows().length > 0;
    });
    await source.settle(); // both lines read in one poll: their writes are done
    expect(rows()).toEqual([
      { firstSeen: created.slice(0, 24), removedAt: modified.slice(0, 24), reason: 'actions_changed', actions: actionsOf(created) },
      { firstSeen: modified.slice(0, 24), removedAt: null, reason: null, actions: actionsOf(modified) },
    ]);
  });
});
