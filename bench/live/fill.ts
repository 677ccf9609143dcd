/**
 * Fills the sandbox's datapath with REAL flows: distinct TCP SYNs from lsp1 (vif1) to lsp2, one
 * exact-match flow per packet and pass (megaflows disabled by run.sh), three passes per packet
 * through the allow-related ACL (recirc 0 → ct zone 1 → ct commit, zone 4 → output).
 *
 * ovs-vswitchd starts with a dynamic flow limit of 10,000 that grows by 1,000 per revalidator
 * round, and netdev-dummy drops what overflows its ~100-packet queue: packets that got no flow
 * are simply sent again (those that did just hit their flow), until the count is reached.
 *
 * Usage: fill.ts FLOWS   (env BENCH_SANDBOX = the sandbox folder)
 */
import { UnixctlClient } from '../../src/unixctl/client';
import { env, sleep, vswitchdCtl } from './common';

const PER_CALL = 50;
const CHUNK = 1000;

export function synFrom(dpPort: number, i: number): string {
  const sport = 1024 + (i % 60000);
  const dport = 80 + Math.floor(i / 60000);
  return (
    `in_port(${dpPort}),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),` +
    `ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=${sport},dst=${dport}),tcp_flags(0x002)`
  );
}

export async function flowCount(c: UnixctlClient): Promise<number> {
  return Number(/flows: (\d+)/.exec(await c.call('dpctl/show'))?.[1] ?? 0);
}

/** The revalidators' dynamic flow limit. Past it they evict every flow idle for 100 ms, not just the excess. */
async function flowLimit(c: UnixctlClient): Promise<number> {
  return Number(/\(limit (\d+)\)/.exec(await c.call('upcall/show'))?.[1] ?? 0);
}

/** vif1's datapath RX counter: packets taken off the dummy queue. */
async function rxPackets(c: UnixctlClient): Promise<number> {
  const m = /port \d+: vif1 .*\n\s+RX packets:(\d+)/.exec(await c.call('dpctl/show', ['-s']));
  return Number(m?.[1] ?? 0);
}

async function main(): Promise<void> {
  const target = Number(process.argv[2]);
  const dir = env('BENCH_SANDBOX');
  const c = new UnixctlClient({ target: vswitchdCtl(dir), timeoutMs: 60_000 });
  const show = await c.call('dpif/show');
  const vif1 = Number(/^\s+vif1 \d+\/(\d+):/m.exec(show)?.[1]);
  if (!vif1) throw new Error(`vif1 not in dpif/show:\n${show}`);
  const t0 = performance.now();
  let have = await flowCount(c);
  let next = Math.floor(have / 3);
  let resent = 0;
  while (have < target) {
    const n = Math.min(CHUNK, Math.ceil((target - have) / 3));
    const want = have + 3 * n;
    // Stay under the dynamic limit (it grows by 1,000 per quick revalidator round): over it, idle flows go.
    for (let w = 0; (await flowLimit(c)) < want + 500 && w < 600; w++) await sleep(100);
    const packets = Array.from({ length: n }, (_, k) => synFrom(vif1, next + k));
    let stale = 0;
    for (let tries = 0; have < want; tries++) {
      if (tries > 60) throw new Error(`stuck at ${have} flows (wanted ${want}); upcall/show:\n${await c.call('upcall/show')}`);
      if (tries > 0) resent += n;
      // netdev-dummy keeps ~100 queued packets: at most one batch waits while another is sent.
      const rx0 = await rxPackets(c);
      for (let k = 0; k < n; k += PER_CALL) {
        for (let w = 0; k > 0 && (await rxPackets(c)) - rx0 < k - PER_CALL && w < 400; w++) await sleep(5);
        await c.call('netdev-dummy/receive', ['vif1', ...packets.slice(k, k + PER_CALL)]);
      }
      // Upcalls take a while (three translations per packet): wait while the count still grows.
      const before = have;
      for (let last = -1, still = 0; have < want && still < 6; ) {
        await sleep(50);
        have = await flowCount(c);
        still = have === last ? still + 1 : 0;
        last = have;
      }
      stale = have === before ? stale + 1 : 0;
      // Packets sent before (by hand, another run) add no flow: after a few fruitless tries, go on.
      if (stale >= 4) break;
      if (stale) await sleep(500); // or the flow limit was reached: wait for the revalidators to raise it
    }
    next += n;
    if (next % 5000 < CHUNK) process.stderr.write(`  ${have} flows after ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const upcall = await c.call('upcall/show');
  console.log(
    `filled: ${have} real datapath flows (${next} packets, ${resent} re-sent) in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
      (/flows\s*:\s*(\(.*\))/.exec(upcall)?.[1] ?? ''),
  );
  c.close();
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
