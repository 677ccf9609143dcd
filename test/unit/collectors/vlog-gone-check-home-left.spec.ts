// A lifetime whose home datapath left dpif/show's list, beside a mute datapath that cannot answer
// (vlog-gone-check.ts checkFlowIn). A flow lives in the one datapath that installed it (a UFID is
// that datapath's, found there by an earlier check: GoneChecks' home), and a datapath removed under
// vswitchd takes its flows with it (lib/dpif-netdev.c dp_netdev_free destroys each PMD's table,
// dp_netdev_destroy_pmd's dp_netdev_pmd_flow_flush; the kernel's datapath delete its table). A mute datapath that cannot answer ("getting flow (Invalid argument)": a
// kernel without UFID lookups, lib/dpif-netlink.c) stood aside only once the home itself said the
// flow was gone; a home no longer listed is never asked again, so it never said so, and the lifetime
// stayed open, every check "unknown", for ever. Now a home no longer listed counts as having said
// gone. The lifetime is driven as the service drives it (vlog-source.service.ts checkGone): the
// captured OVS 3.5 flow_add, the daemon's own dpctl_error texts, a real migrated SQLite.
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { checkFlowIn, DatapathAnswers, GONE_REASON, GoneChecks } from '../../../src/collectors/vlog-gone-check';
import { VlogLifetimes } from '../../../src/collectors/vlog-lifetimes';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { capturedFlow } from '../../support/captured-vlog-flow';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import { ENOENT, NO_UFID } from '../../support/vlog-source';
import type { StoreWriter } from '../../../src/storage/writer';

const HOME = 'dummy@ovs-dummy';
const NETDEV = 'netdev@ovs-netdev';
const SYSTEM = 'system@ovs-system';

describe('a lifetime whose home datapath left the list beside a mute one', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  it('ends gone_unlogged once the mute datapath stands aside, not "unknown" for ever', async () => {
    m = await openMigratedSqlite('livetrace-vlog-home-left-');
    const gone = new GoneChecks();
    const answers = new DatapathAnswers();
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), gone, new LifetimeSpoolBound({ shipper: null } as never, new MetricsService()));
    const { flow, t } = capturedFlow();
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1', null));
    const id = (m.db.prepare('SELECT id FROM datapath_flow').get() as { id: number }).id;
    let homeHasIt = true;
    const call = async (_command: string, args: string[]) => {
      if (args[0] === HOME && homeHasIt) return `ufid:${flow.ufid}, ${flow.key}, packets:4, bytes:392, used:1.000s, actions:${flow.actions}\n`;
      throw args[0] === SYSTEM ? NO_UFID : ENOENT;
    };
    /** One check as checkGone makes it: every datapath listed now, the lifetime's home; its answer written. */
    const check = async (dps: string[], s: number) => {
      const result = await checkFlowIn(call, dps, flow.ufid, { answers, home: gone.homeOf(id), now: Date.parse(t(s)) });
      if (result.state !== 'unknown') await m.writer.submit((tx) => lifetimes.checked(tx, { kind: 'checked', id, ufid: flow.ufid, at: Date.parse(t(s)), result }, 'hv1'));
      return result.state;
    };
    expect(await check([HOME, NETDEV, SYSTEM], 12)).toBe('present'); // its home: found there
    expect(gone.homeOf(id)).toBe(HOME);
    homeHasIt = false; // the datapath is removed (its bridges deleted): dpif/show lists it no more
    const states = [];
    for (let s = 24; s <= 120; s += 6) states.push(await check([NETDEV, SYSTEM], s));
    // The kernel datapath vetoes until it has refused consistently (3 times over a max-idle), then stands aside.
    expect(states.slice(0, 3)).toEqual(['unknown', 'unknown', 'gone']);
    expect(m.db.prepare('SELECT removed_at AS removedAt, removal_reason AS reason, packets FROM datapath_flow').all()).toEqual([
      { removedAt: t(36), reason: GONE_REASON, packets: 4 },
    ]);
  });
});
