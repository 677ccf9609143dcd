/**
 * bench/far-passes/many-candidates: one cross-chassis link (CrossChassisPaths.extend, the code GET
 * /paths/:id runs, on SQLite, no HTTP) from a sender megaflow alive for an hour whose packet arrived
 * 5 ms after its start, with N arrivals of other VMs' packets on the receiver within that hour
 * (captured debian12 lines; the others differ only in the inner Ethernet source). Side by side, run
 * by run: the look as built (PathStore.arrivals: 2,048 candidates each side of the sender's start,
 * nearest first) and as it was at stop 21 (the newest 256, kept here). Prints the time of one
 * extend() and of the look alone for each, their ratio, and whether each linked the right arrival.
 *
 * Usage: node -r ts-node/register/transpile-only bench/far-passes/many-candidates.ts [N=400,2000,30000]
 */
import 'reflect-metadata';
import { signaturesReaching } from '../../src/ovs/tunnel-signature';
import { PathBuilder } from '../../src/paths/path-builder';
import { PathStore, type LinkFlowRow, type LinkLook, type LinkSide, type LinkWindow } from '../../src/paths/path-store';
import { pushesOf } from '../../src/paths/tunnel-link';
import { CapturedFlow, capturedFlows } from '../../test/support/captured-multichassis';
import { oneChassis } from '../../test/support/cross-chassis';
import { closeMigratedSqlite, openMigratedSqlite } from '../../test/support/migrated-sqlite';
import { tracedPasses } from '../../test/support/traced-pass';

const ENCAP = { hv1: '192.168.0.1', hv2: '192.168.0.2' };
const T0 = Date.parse('2026-12-05T03:00:00.000Z');
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const one = (file: string, pred: (l: CapturedFlow) => boolean): CapturedFlow => capturedFlows('debian12', file).filter(pred)[0];
const sent = one('hv1.flows-m.txt', (l) => l.key.includes('dst=50:54:00:00:00:02') && l.actions.includes('tnl_push('));
const arrived = one('hv2.flows-m.txt', (l) => l.key.includes('tunnel(') && l.actions === 'vif2');
const otherVm = (l: CapturedFlow, n: number): CapturedFlow => ({
  ...l,
  key: l.key.replace('eth(src=50:54:00:00:00:01', `eth(src=50:54:${((n >> 16) & 255).toString(16).padStart(2, '0')}:01:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`),
});

/** Stop 21's look for arrivals: the newest 256 alive in the window, one statement. */
class NewestPathStore extends PathStore {
  constructor(private readonly raw: import('better-sqlite3').Database) {
    super({ db: raw });
  }
  override arrivals(side: LinkSide, signatures: readonly string[], { from, to }: LinkWindow): Promise<LinkLook> {
    const sig = `f2.tunnel_sig IN (${signatures.map(() => '?').join(', ')})`;
    const cols = 'f.id, f.chassis, f.key, f.actions, f.recirc_id, f.first_seen, f.last_seen, f.removed_at, (SELECT max(t.id) FROM trace t WHERE t.datapath_flow_id = f.id) AS trace_id';
    return Promise.resolve({
      bounded: false,
      reach: { before: null, after: null },
      rows: this.raw
        .prepare(
          `SELECT ${cols} FROM datapath_flow f
            WHERE f.id IN (SELECT f2.id FROM datapath_flow f2 WHERE ${sig} AND f2.chassis = ? AND f2.removed_at IS NULL AND f2.first_seen <= ?
                           UNION ALL SELECT f2.id FROM datapath_flow f2 WHERE ${sig} AND f2.chassis = ? AND f2.removed_at >= ? AND f2.first_seen <= ?)
              AND f.first_seen <= ? AND coalesce(f.removed_at, f.last_seen) >= ? AND EXISTS (SELECT 1 FROM trace t WHERE t.datapath_flow_id = f.id)
            ORDER BY f.first_seen DESC, f.id DESC LIMIT 256`,
        )
        .all(...signatures, side.chassis, to, ...signatures, side.chassis, from, to, to, from) as LinkFlowRow[],
    });
  }
}

async function measure(n: number): Promise<Record<string, unknown>> {
  const store = await openMigratedSqlite('livetrace-bench-many-');
  try {
    const { db, writer } = store;
    const traced = tracedPasses(db);
    const pass = (tx: Parameters<Parameters<typeof writer.submit>[0]>[0], chassis: string, l: CapturedFlow, ufid: string, from: number, to: number | null, seen: number) =>
      traced(tx, { chassis, l, ufid, from, to, seen });
    const [sender, arrival] = await writer.submit((tx) => [
      pass(tx, 'hv1', sent, 'sender', T0, null, T0 + HOUR),
      pass(tx, 'hv2', arrived, 'arrival', T0 + 5, T0 + 60, T0 + 60),
    ]);
    const step = (HOUR - 100_000) / n;
    await writer.submit((tx) => {
      for (let k = 0; k < n; k++) pass(tx, 'hv2', otherVm(arrived, k), `other-${k}`, T0 + 10_000 + Math.floor(k * step), T0 + 10_050 + Math.floor(k * step), T0 + 10_050 + Math.floor(k * step));
    });

    const stores = { built: new PathStore({ db }), stop21: new NewestPathStore(db) };
    type Variant = keyof typeof stores;
    const built = (await new PathBuilder(stores.built).ofTrace(sender))!;
    const row = (await stores.built.flow(built.passes[0].datapath_flow_id!))!;
    const signatures = signaturesReaching(pushesOf(row.actions)[0]);
    const window = { from: iso(T0 - 1000), to: iso(T0 + HOUR + 1000), near: iso(T0) };
    const linked = async (v: Variant) => {
      const b = new PathBuilder(stores[v]);
      const path = await oneChassis(stores[v], {}, ENCAP).extend(built, (id) => b.ofTrace(id));
      return path?.verdict.tunnels[0]?.toTraceId === arrival;
    };
    const ms: Record<Variant, { extend: number[]; look: number[] }> = { built: { extend: [], look: [] }, stop21: { extend: [], look: [] } };
    const answers: Record<Variant, boolean> = { built: await linked('built'), stop21: await linked('stop21') };
    for (let round = 0; round < 7; round++) {
      for (const v of (round % 2 ? ['stop21', 'built'] : ['built', 'stop21']) as Variant[]) {
        let t = performance.now();
        await linked(v);
        ms[v].extend.push(performance.now() - t);
        t = performance.now();
        await stores[v].arrivals({ chassis: 'hv2', notChassis: 'hv1' }, signatures, window);
        ms[v].look.push(performance.now() - t);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const m = (v: Variant, k: 'extend' | 'look') => +median(ms[v][k]).toFixed(1);
    return {
      otherArrivals: n,
      extendMs: { built: m('built', 'extend'), stop21: m('stop21', 'extend'), ratio: +(m('built', 'extend') / m('stop21', 'extend')).toFixed(2) },
      lookMs: { built: m('built', 'look'), stop21: m('stop21', 'look'), ratio: +(m('built', 'look') / m('stop21', 'look')).toFixed(2) },
      linkedTheRightArrival: answers,
    };
  } finally {
    await closeMigratedSqlite(store);
  }
}

(async () => {
  const sizes = (process.argv[2] ?? '400,2000,30000').split(',').map(Number);
  for (const n of sizes) console.log(JSON.stringify(await measure(n)));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
