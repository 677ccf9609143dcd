// A localnet hop when its look finds thousands of candidates (a sender megaflow alive for an hour
// meets every lifetime the other chassis took in from the physical network meanwhile): like a
// tunnel's (link-many-candidates), the hop is marked `lookBounded` only when the look stopped at its
// bound nearer than the pick, not whenever a side had more than LINK_A_SIDE. Captured 3.1.0/23.03.1 lines
// of distributed-dnat-and-snat-2hv: hv1's client pass out to br-phys_n1 by pub-ln, hv2's first pass of it.
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { PathBuilder } from '../../../src/paths/path-builder';
import { CrossChassisPaths } from '../../../src/paths/cross-chassis';
import { LINK_A_SIDE, PathStore } from '../../../src/paths/path-store';
import type { LivetraceConfig } from '../../../src/config/config.schema';
import type { ReplicasService } from '../../../src/replicas/replicas.service';
import type { StoreWriter } from '../../../src/storage/writer';
import type { CapturedFlow } from '../../support/captured-multichassis';
import { natCapture, natFlows } from '../../support/captured-nat';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import { tracedPasses } from '../../support/traced-pass';

const T0 = Date.parse('2026-12-05T03:00:00.000Z');
const flowOf = (chassis: string, pred: (key: string) => boolean): CapturedFlow => {
  const f = natFlows(natCapture('ovs-3.1.0_ovn-23.03.1', 'distributed-dnat-and-snat-2hv', { chassis }), 'userspace').find((x) => pred(x.line))!;
  return { key: f.line.replace(/^ufid:[^,]+, /, '').replace(/, packets:.*$/, ''), actions: /, actions:(.*?)(?:, dp-extra-info:.*)?$/.exec(f.line)![1], recirc: f.recircId } as CapturedFlow;
};
const client = flowOf('hv1', (l) => l.includes('in_port(vif7)') && l.includes('recirc_id(0)'));
const arrival = flowOf('hv2', (l) => l.includes('recirc_id(0)') && l.includes('in_port(br-phys_n1)') && l.includes('dst=50:54:00:00:01:50'));
/** The same arrival for another client's frame: another Ethernet source. */
const otherClient = (n: number): CapturedFlow => ({ ...arrival, key: arrival.key.replace(/eth\(src=[0-9a-f:]+/, `eth(src=50:54:00:02:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`) });

/** The southbound as the link reads it: pub-ln, the one localnet port, on network phys. */
const PUB_LN = { logical_port: 'pub-ln', type: 'localnet', options: { network_name: 'phys' }, tag: ['set', []] };
const sb = { find: (table: string, col: string, v: string) => (table === 'Port_Binding' && ((col === 'logical_port' && v === 'pub-ln') || (col === 'type' && v === 'localnet')) ? [PUB_LN] : []) };

describe('a localnet hop among many candidates', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;

  beforeEach(async () => {
    ({ dir, ds, db, writer } = await openMigratedSqlite('livetrace-ln-many-'));
  });
  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds, writer });
  });

  /** Traced first passes, each with its localnet mark and verdict as a stored pass has them. */
  async function passes(list: Array<{ chassis: string; l: CapturedFlow; from: number; to: number | null; seen?: number; localnet: 'in' | 'out'; delivers?: string }>): Promise<number[]> {
    const pass = tracedPasses(db);
    const ids = await writer.submit((tx) => list.map((p, i) => pass(tx, { chassis: p.chassis, l: p.l, ufid: `${p.chassis}-${i}-${p.from}`, from: p.from, to: p.to, seen: p.seen ?? p.to ?? p.from })));
    await writer.submit((tx) =>
      list.forEach((p, i) => {
        const out = p.localnet === 'out' ? 'pub-ln' : p.delivers;
        tx.stmt(`UPDATE trace SET verdict = json_set(verdict, '$.logicalPorts', json_array(?)) WHERE id = ?`).run(out ?? null, ids[i]);
        tx.stmt(`UPDATE datapath_flow SET localnet_${p.localnet} = 'pub-ln' WHERE id = (SELECT datapath_flow_id FROM trace WHERE id = ?)`).run(ids[i]);
        if (p.localnet === 'in') tx.stmt(`INSERT INTO trace_port (port_name, trace_id, created_at, role, scope) VALUES ('pub-ln', ?, ?, 'inport', 'pass')`).run(ids[i], new Date(p.from).toISOString());
      }),
    );
    return ids;
  }

  it(`the receiver nearer than where the bounded side stopped is sure: no lookBounded (${LINK_A_SIDE + 1} other frames taken in after it)`, async () => {
    const [sender, receiver] = await passes([
      { chassis: 'hv1', l: client, from: T0, to: null, seen: T0 + 3_600_000, localnet: 'out' },
      { chassis: 'hv2', l: arrival, from: T0 + 5, to: T0 + 60, localnet: 'in', delivers: 'lsp6' },
    ]);
    await passes(Array.from({ length: LINK_A_SIDE + 1 }, (_, n) => ({ chassis: 'hv2', l: otherClient(n), from: T0 + 10_000 + n * 500, to: T0 + 10_050 + n * 500, localnet: 'in' as const, delivers: 'lsp6' })));
    const store = new PathStore({ db });
    const look = await store.localnetPasses('in', ['pub-ln'], 'hv1', { from: new Date(T0 - 1000).toISOString(), to: new Date(T0 + 3_601_000).toISOString(), near: new Date(T0).toISOString() });
    expect(look.bounded).toBe(true);
    const builder = new PathBuilder(store);
    const paths = new CrossChassisPaths(store, { sb, model: {} } as unknown as ReplicasService, { LIVETRACE_ROLE: 'all', LIVETRACE_TUNNEL_SKEW_MS: 1000 } as LivetraceConfig);
    const path = await paths.extend((await builder.ofTrace(sender))!, (id) => builder.ofTrace(id));
    expect(path!.verdict.localnetHops).toEqual([expect.objectContaining({ fromTraceId: sender, port: 'pub-ln', network: 'phys', toChassis: 'hv2', toTraceId: receiver })]);
    expect(path!.verdict.localnetHops![0]).not.toHaveProperty('lookBounded');
  });
});
