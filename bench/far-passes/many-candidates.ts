/**
 * bench/far-passes/many-candidates: one cross-chassis link (CrossChassisPaths.extend, the code GET
 * /paths/:id runs, on SQLite, no HTTP) from a sender megaflow alive for an hour whose packet arrived
 * 5 ms after its start, with N arrivals of other VMs' packets on the receiver within that hour
 * (captured debian12 lines; the others differ only in the inner Ethernet source). Side by side, run
 * by run: the look as built (PathStore.arrivals: 2,048 candidates each side of the sender's start,
 * nearest first) and as it was at stop 21 (the newest 256, kept here). Prints the time of one
 * extend() and of the look alone for each, their ratio, and whether each linked the right arrival.
 *
 * Then the pick alone for a flood (linkTunnels, no store): the captured multicast sender's push to
 * hv2 copied to P chassis, C arrivals spread over them (one the flood's own a chassis, the others
 * other VMs' packets). Side by side, call by call: as built (each candidate's key parsed once a
 * link) and as it was before (parsed again for every push it is compared with, kept here). Prints
 * both medians, their ratio, and whether both picked the same arrival for every push.
 *
 * Usage: node -r ts-node/register/transpile-only bench/far-passes/many-candidates.ts [N=400,2000,30000] [FLOODS=3x400,16x2000,64x4000]
 */
import 'reflect-metadata';
import { signaturesReaching } from '../../src/ovs/tunnel-signature';
import { PathBuilder } from '../../src/paths/path-builder';
import { PathStore, type LinkFlowRow, type LinkLook, type LinkSide, type LinkWindow } from '../../src/paths/path-store';
import { pushReaches } from '../../src/ovs/odp-tunnel';
import { arrivalOf, gapMs, innerFields, linkTunnels, nearer, pushesOf, samePacket, sentFieldsOfPushes, type LinkFlow, type TunnelLink } from '../../src/paths/tunnel-link';
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

/** linkTunnels before each candidate was parsed once a link: its tunnel and inner packet read again for every push. */
function linkTunnelsReparsing<T extends LinkFlow>(sender: LinkFlow, candidates: readonly T[], skewMs: number): TunnelLink<T>[] {
  const sentAll = sentFieldsOfPushes(sender);
  return pushesOf(sender.actions).map((push, i) => {
    const sent = sentAll[i] ?? innerFields(sender.key);
    const link = { push, ...(sentAll[i] ? { sent: sentAll[i] } : {}) };
    let best: T | undefined;
    for (const c of candidates) {
      if (c.chassis === sender.chassis) continue;
      const arrival = arrivalOf(c);
      if (!arrival || !pushReaches(push, arrival)) continue;
      if (gapMs(sender, c) > skewMs) continue;
      if (!samePacket(sent, innerFields(c.key))) continue;
      if (nearer(sender, c, best)) best = c;
    }
    return { ...link, receiver: best };
  });
}

function flood(pushes: number, candidates: number): Record<string, unknown> {
  const mcast = one('hv1.mcast-m.txt', (l) => (l.actions.match(/tnl_push\(/g) ?? []).length === 3);
  const toHv2 = mcast.actions.slice(mcast.actions.lastIndexOf('tnl_push('));
  const ipOf = (k: number) => `192.168.${1 + (k >> 8)}.${k & 255}`;
  const actions = Array.from({ length: pushes }, (_, k) => toHv2.replace('dst=192.168.0.2,', `dst=${ipOf(k)},`)).join(',');
  const sender: LinkFlow = { chassis: 'hv1', key: mcast.key, actions, recircId: 0, from: T0, to: T0 + HOUR };
  const own = capturedFlows('debian12', 'hv2.mcast-m.txt').filter((l) => l.key.includes('tunnel(') && l.recirc === 0)[0];
  const arrivals: LinkFlow[] = Array.from({ length: candidates }, (_, n) => {
    const k = n % pushes;
    const l = n < pushes ? own : otherVm(own, n);
    return { chassis: `hv-${k}`, key: l.key.replace('dst=192.168.0.2,', `dst=${ipOf(k)},`), actions: l.actions, recircId: 0, from: T0 + 5 + n * 50, to: T0 + 60 + n * 50 };
  });
  const skew = 2 * HOUR;
  const picks = (links: TunnelLink<LinkFlow>[]) => links.map((l) => (l.receiver ? arrivals.indexOf(l.receiver) : -1)).join(',');
  const variants = { built: () => linkTunnels(sender, arrivals, skew), reparsing: () => linkTunnelsReparsing(sender, arrivals, skew) };
  type Variant = keyof typeof variants;
  const linked = picks(variants.built());
  const ms: Record<Variant, number[]> = { built: [], reparsing: [] };
  for (let round = 0; round < 7; round++) {
    for (const v of (round % 2 ? ['reparsing', 'built'] : ['built', 'reparsing']) as Variant[]) {
      const t = performance.now();
      variants[v]();
      ms[v].push(performance.now() - t);
    }
  }
  const median = (v: Variant) => +[...ms[v]].sort((a, b) => a - b)[3].toFixed(2);
  return {
    floodPushes: pushes,
    candidates,
    linkMs: { built: median('built'), reparsing: median('reparsing'), ratio: +(median('built') / median('reparsing')).toFixed(3) },
    everyPushLinked: !linked.split(',').includes('-1'),
    sameLinks: picks(variants.reparsing()) === linked,
  };
}

(async () => {
  const sizes = (process.argv[2] ?? '400,2000,30000').split(',').filter(Boolean).map(Number);
  for (const n of sizes) console.log(JSON.stringify(await measure(n)));
  for (const f of (process.argv[3] ?? '3x400,16x2000,64x4000').split(',').filter(Boolean)) {
    const [pushes, candidates] = f.split('x').map(Number);
    console.log(JSON.stringify(flood(pushes, candidates)));
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
