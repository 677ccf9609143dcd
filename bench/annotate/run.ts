/**
 * bench/annotate: annotated traces per second on warm indexes, side by side with one ovn-detrace run
 * on the same trace text, in one run.
 *
 * 1. Live: a sandbox (scripts/ovn-sandbox, demo topology + a load balancer and a port-group ACL),
 *    ReplicaFollower replicas of NB/SB/OVS, four ofproto/trace replies (ICMP forwarded, DNS dropped by
 *    an ACL, ARP, TCP to a LB VIP): each reply's passes are annotated in a loop for ~SECONDS, and
 *    ovn-detrace (--ovnnb/--ovnsb/--ovsdb) runs once per reply, wall time measured.
 * 2. Captured: the 120 captured replies (every pass and continuation) with the model built from the
 *    captured NB/SB dumps.
 * Parsing is done once beforehand (bench/parse measures it); annotation includes verdicts and ports.
 *
 * Usage: npm run bench:annotate [-- SECONDS=3]
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { annotatePass } from '../../src/correlation/annotate';
import { replicaFromDump } from '../../src/ovn/fixture-loader';
import { OvnModel } from '../../src/ovn/ovn-model';
import { ReplicaFollower } from '../../src/ovsdb/replica/follower';
import { Replica } from '../../src/ovsdb/replica/replica';
import type { DatabaseSchema } from '../../src/ovsdb/types';
import { parseOfprotoTrace, TracePass } from '../../src/ovs/ofproto-trace';
import { NORTHBOUND, OPEN_VSWITCH, SOUTHBOUND } from '../../src/replicas/ovn-tables';
import { Sandbox } from '../../test/support/sandbox';

const ROOT = join(__dirname, '../..');
const SECONDS = Number(process.argv[2] ?? 3);
const MAC = (i: number) => `50:54:00:00:00:0${i}`;
const FLOWS: Record<string, string> = {
  icmp: `icmp,in_port=1,dl_src=${MAC(1)},dl_dst=${MAC(2)},nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_ttl=64,icmp_type=8`,
  dns_drop: `udp,in_port=1,dl_src=${MAC(1)},dl_dst=${MAC(3)},nw_src=10.0.0.1,nw_dst=10.0.0.3,nw_ttl=64,udp_src=5353,udp_dst=53`,
  arp: `arp,in_port=2,dl_src=${MAC(2)},dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=10.0.0.2,arp_tpa=10.0.0.1,arp_op=1,arp_sha=${MAC(2)}`,
  tcp_lb: `tcp,in_port=3,dl_src=${MAC(3)},dl_dst=${MAC(1)},nw_src=10.0.0.3,nw_dst=10.0.0.100,nw_ttl=64,tcp_src=40000,tcp_dst=80`,
};

function passesOf(text: string): TracePass[] {
  const p = parseOfprotoTrace(text);
  return p.kind === 'trace' ? [p.pass, ...p.continuations] : [];
}

/** Annotates the replies round-robin for `seconds`; a reply (all its passes) counts as one trace per pass. */
function measure(model: OvnModel, replies: TracePass[][], seconds: number): { passesPerS: number; repliesPerS: number; stepsPerS: number } {
  for (let i = 0; i < 3; i++) for (const r of replies) for (const p of r) annotatePass(p, model); // warm caches and JIT
  let passes = 0;
  let replyCount = 0;
  let steps = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() - start < limit) {
    for (let k = 0; k < 100; k++) {
      const r = replies[replyCount % replies.length];
      for (const p of r) {
        steps += annotatePass(p, model).steps.length;
        passes++;
      }
      replyCount++;
    }
  }
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  return { passesPerS: passes / s, repliesPerS: replyCount / s, stepsPerS: steps / s };
}

function detraceWall(sb: Sandbox, text: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = execFile('ovn-detrace', [`--ovnnb=${sb.env.OVN_NB_DB}`, `--ovnsb=${sb.env.OVN_SB_DB}`, `--ovsdb=${sb.env.OVS_DB}`], { env: { ...process.env, ...sb.env }, maxBuffer: 64 << 20 }, (err) =>
      err ? reject(err) : resolve(Number(process.hrtime.bigint() - t0) / 1e9),
    );
    child.stdin!.end(text);
  });
}

async function live(): Promise<void> {
  const sb = await Sandbox.start({ prefix: 'livetrace-bench-annotate-' });
  const followers: ReplicaFollower[] = [];
  try {
    await sb.hintTopology();
    for (const [name, spec, remote] of [['OVN_Northbound', NORTHBOUND, sb.env.OVN_NB_DB], ['OVN_Southbound', SOUTHBOUND, sb.env.OVN_SB_DB], ['Open_vSwitch', OPEN_VSWITCH, sb.env.OVS_DB]] as const) {
      followers.push(new ReplicaFollower(new Replica(name, spec), { remotes: remote }).start());
    }
    await Promise.all(followers.map((f) => f.waitSynced()));
    const model = new OvnModel({ nb: followers[0].replica, sb: followers[1].replica, ovs: followers[2].replica });
    console.log(`live sandbox: ${followers[1].replica.count('Logical_Flow')} logical flows`);
    console.log('reply      passes steps  ours(traces/s)  ovn-detrace wall(s)  ovn-detrace→ours ratio');
    for (const [name, flow] of Object.entries(FLOWS)) {
      const text = await sb.appctl('ofproto/trace', 'br-int', flow);
      const passes = passesOf(text);
      const ours = measure(model, [passes], SECONDS);
      const walls: number[] = [];
      for (let i = 0; i < 3; i++) walls.push(await detraceWall(sb, text));
      const wall = walls.sort((a, b) => a - b)[1];
      const steps = passes.reduce((n, p) => n + p.steps.length, 0);
      // ratio: how many of our annotated replies fit in one ovn-detrace run of the same text
      console.log(`${name.padEnd(10)} ${String(passes.length).padStart(6)} ${String(steps).padStart(5)}  ${Math.round(ours.passesPerS).toString().padStart(14)}  ${wall.toFixed(3).padStart(19)}  ${Math.round(wall * ours.repliesPerS).toString().padStart(10)}x`);
    }
    model.dispose();
  } finally {
    for (const f of followers) f.close();
    await sb.stop();
  }
}

function captured(): void {
  // The Debian 12 capture (the numbers in RESULTS were measured on it); its schemas are captured with it.
  const C = join(ROOT, 'test/fixtures/captured/ovs-3.1.0_ovn-23.03.1');
  const schema = (f: string) => JSON.parse(readFileSync(join(C, f), 'utf8')) as DatabaseSchema;
  const model = new OvnModel({
    nb: replicaFromDump('OVN_Northbound', NORTHBOUND, schema('ovn-nb.ovsschema'), readFileSync(join(C, 'northbound.json'), 'utf8')),
    sb: replicaFromDump('OVN_Southbound', SOUTHBOUND, schema('ovn-sb.ovsschema'), readFileSync(join(C, 'southbound.json'), 'utf8')),
  });
  const replies: TracePass[][] = [];
  for (const d of readdirSync(C, { withFileTypes: true }).filter((x) => x.isDirectory())) {
    const dir = join(C, d.name, 'traces');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.txt') && !x.endsWith('.detrace.txt'))) replies.push(passesOf(readFileSync(join(dir, f), 'utf8')));
  }
  const passes = replies.reduce((n, r) => n + r.length, 0);
  const r = measure(model, replies, SECONDS);
  console.log(`captured: ${replies.length} replies, ${passes} passes: ${Math.round(r.passesPerS)} annotated traces/s (${Math.round(r.stepsPerS)} steps/s), cookie cache hits ${model.stats.cookieHits}, misses ${model.stats.cookieMisses}`);
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${cpus()[0]?.model ?? '?'} x${cpus().length}, ${SECONDS}s per measurement, load average ${loadavg()[0].toFixed(2)} (other work on the host slows ours; ovn-detrace less so, it waits on sockets); target ≥ 20000 traces/s`);
  captured();
  await live();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
