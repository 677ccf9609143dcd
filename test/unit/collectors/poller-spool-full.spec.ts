// The spool's bound and the poller's lifetimes (LIVETRACE_SPOOL_MAX_CHANGES). The tracer drops new
// traces and the ingest refuses batches while the spool is full, but the poller went on writing a
// row for every new datapath flow, so flow churn filled the spool past its bound. Now, while it is
// full: a new lifetime is not stored (counted), its counters and end write nothing (no row, no bogus
// end); it is stored once the spool has room if the flow is still installed, with the time it was
// first seen and its recirculation edges; a stored lifetime's counters wait, and its end is written
// (with them): without it the lifetime would stay open in the history for good.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { PollerService } from '../../../src/collectors/poller.service';
import { loadConfig } from '../../../src/config/config';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { parseDumpFlows } from '../../../src/ovs/dump-flows';
import { VERSIONS, versionDir } from '../../support/captured-model';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

// The ICMP echo request and reply: two recirculation chains of three flows (0 → 0x1 → 0x2).
const lines = readFileSync(join(versionDir(VERSIONS[0]), 'icmp-allow-related/dump-flows.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('ufid:'));
const ufidOf = (l: string) => /^ufid:([0-9a-f-]+)/.exec(l)![1];

describe('the poller while the spool is full', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  it('stores no new lifetime, no bogus end; stores it late when there is room; writes the end of a stored one', async () => {
    m = await openMigratedSqlite('livetrace-poller-full-');
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false' });
    let dump = '';
    const vswitchd = Object.assign(new EventEmitter(), { currentPid: 1, call: async () => dump, callServed: async () => ({ text: dump, pid: 1 }), invalidateDatapath: () => undefined });
    const state = { full: false };
    const metrics = new MetricsService();
    const store = { writer: m.writer, shipper: { state } };
    const p = new PollerService(config, vswitchd as never, store as never, new DatapathFlowStore({ db: m.db }), { chassisName: () => 'hv1' } as never, metrics, new LifetimeSpoolBound(store as never, metrics));
    const rows = () => m.db.prepare('SELECT ufid, first_seen, removed_at, removal_reason, packets FROM datapath_flow ORDER BY id').all() as Array<Record<string, unknown>>;
    const flows = parseDumpFlows(lines.join('\n')).items;
    const chain = (f: (typeof flows)[number]) => flows.filter((g) => g.keyText!.includes(`in_port(${/in_port\(([^)]+)\)/.exec(f.keyText!)![1]})`));
    const x = flows.find((f) => /recirc_id\(0\)/.test(f.keyText!))!;
    const chainX = chain(x).map((f) => f.ufid!);
    const y = chainX.find((u) => u !== x.ufid)!;
    const lineOf = (u: string) => lines.find((l) => ufidOf(l) === u)!;
    const bumped = (l: string) => l.replace(/packets:(\d+), bytes:(\d+)/, (_, a, b) => `packets:${Number(a) + 5}, bytes:${Number(b) + 500}`);

    dump = lineOf(x.ufid!);
    await p.cycle();
    expect(rows().map((r) => r.ufid)).toEqual([x.ufid]);
    const packetsX = rows()[0].packets as number;

    // Full: five new flows, x's counters move.
    state.full = true;
    const fullSince = new Date().toISOString();
    dump = lines.map((l) => (ufidOf(l) === x.ufid ? bumped(l) : l)).join('\n');
    await p.cycle();
    expect(rows()).toHaveLength(1);
    expect(rows()[0].packets).toBe(packetsX);
    expect(m.db.prepare('SELECT COUNT(*) AS n FROM recirc_edge').get()).toEqual({ n: 0 });

    // Still full: x and one of the new flows (y) end.
    const stillFull = new Date().toISOString();
    dump = lines.filter((l) => ![x.ufid, y].includes(ufidOf(l))).join('\n');
    await p.cycle();
    expect(rows()).toHaveLength(1);
    expect(rows()[0]).toMatchObject({ ufid: x.ufid, removal_reason: 'gone', packets: packetsX + 5 });

    // Room again: the four flows still installed are stored, first seen while full, with their edges.
    state.full = false;
    await p.cycle();
    const late = rows().slice(1);
    expect(late.map((r) => r.ufid).sort()).toEqual(lines.map(ufidOf).filter((u) => ![x.ufid, y].includes(u)).sort());
    for (const r of late) {
      expect(r.removed_at).toBeNull();
      expect((r.first_seen as string) >= fullSince && (r.first_seen as string) < stillFull).toBe(true);
    }
    expect(rows().some((r) => r.ufid === y)).toBe(false);
    // The other chain's three flows: two edges (x's chain lost x and y: its middle has none left).
    const edges = m.db.prepare('SELECT COUNT(*) AS n FROM recirc_edge').get() as { n: number };
    expect(edges.n).toBe(2);

    const counted = await metrics.registry.getSingleMetric('livetrace_datapath_flow_writes_total')!.get();
    expect(Object.fromEntries(counted.values.map((v) => [v.labels.outcome, v.value]))).toEqual({
      dropped_spool_full: 5,
      stored_late: 4,
      lost_spool_full: 1,
      deferred_spool_full: 1,
    });

    // And later ends are written as usual.
    dump = '';
    await p.cycle();
    expect(rows().every((r) => r.removal_reason === 'gone')).toBe(true);
  });
});
