// Captures, from real daemons of one OVS/OVN pair, what the verdict unit tests replay: the
// router topology of test/support/verdict-topology.ts and, per packet of VERDICT_PACKETS and EXTRA_VERDICT_PACKETS, the
// datapath flows it installed, the ofproto/trace of each flow's own key (taken right after the
// dump, while the recirculation ids are alive) and the interfaces' tx counters before and after.
//
//   node -r ts-node/register/transpile-only scripts/capture-verdict-fixtures.ts PAIR [OUT_DIR]
//   LIVETRACE_CAPTURE_ONLY=pkt1,pkt2 …   captures only those packets (each must have a setup, so it
//                                       carries its own database dumps) into the existing OUT_DIR
//
// OUT_DIR defaults to test/fixtures/verdicts/ovs-<ovs>_ovn-<ovn>. Written there:
//   northbound.json southbound.json openvswitch.json   `ovsdb-client dump --format=json`
//   schemas/{ovn-nb,ovn-sb,vswitch}.ovsschema           the schemas the servers ran
//   topology.json                                       the northbound UUIDs the tests check against
//   <packet>/packets.txt dump-flows.txt dpif-show.txt tx-before.txt tx-after.txt (dpctl/show -s)
//   <packet>/traces/<ufid>.txt                          ofproto/trace of the flow's own key
//   <packet>/{northbound,southbound,openvswitch}.json   for a packet with a setup (verdict-topology.ts):
//                                                       the databases while it went through
//   <packet>/detrace/<ufid>.txt                         ofproto/detrace ufid:… pmd=… (OVS >= 3.4), taken
//                                                       after one more packet and a revalidation round,
//                                                       which is when a ukey has a translation cache
// Every packet starts from an empty datapath and conntrack (revalidator/purge, flush-conntrack:
// the capture may change daemon state; the service never does).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pmdOf } from '../src/collectors/datapath-diff';
import { parseDumpFlows } from '../src/ovs/dump-flows';
import { traceKey } from '../src/ovs/odp-key';

const ROOT = resolve(__dirname, '..');
/** Written to OUT_DIR (and, for a packet with a setup, to its own folder): file, schema file, socket, database. */
const DUMPS: ReadonlyArray<[string, string, string, string]> = [
  ['northbound.json', 'ovn-nb.ovsschema', 'ovnnb_db.sock', 'OVN_Northbound'],
  ['southbound.json', 'ovn-sb.ovsschema', 'ovnsb_db.sock', 'OVN_Southbound'],
  ['openvswitch.json', 'vswitch.ovsschema', 'db.sock', 'Open_vSwitch'],
];

async function main(): Promise<void> {
  const pair = process.argv[2];
  if (!pair) throw new Error('usage: capture-verdict-fixtures.ts PAIR [OUT_DIR]');
  process.env.LIVETRACE_PAIR = pair;
  const bin = execFileSync(join(ROOT, 'scripts/ovn-root'), ['bin', pair], { encoding: 'utf8' }).trim();
  if (bin) process.env.PATH = `${bin}:${process.env.PATH}`;
  // Imported after PATH is set: the sandbox's tools are the pair's.
  const { Sandbox } = await import('../test/support/sandbox');
  const { buildVerdictTopology, EXTRA_VERDICT_PACKETS, VERDICT_PACKETS } = await import('../test/support/verdict-topology');
  const versions = execFileSync(join(ROOT, 'scripts/ovn-root'), ['versions', pair], { encoding: 'utf8' }).trim();
  const m = /ovs=(\S+) ovn=(\S+)/.exec(versions);
  if (!m) throw new Error(`scripts/ovn-root versions ${pair} printed "${versions}"`);
  const out = process.argv[3] ?? join(ROOT, 'test/fixtures/verdicts', `ovs-${m[1]}_ovn-${m[2]}`);
  const only = process.env.LIVETRACE_CAPTURE_ONLY ? process.env.LIVETRACE_CAPTURE_ONLY.split(',') : null;
  const all = { ...VERDICT_PACKETS, ...EXTRA_VERDICT_PACKETS };
  // Added to an existing capture, a packet must be read against databases of its own: the other
  // packets' dumps are of another sandbox, whose logical flows have other UUIDs.
  for (const name of only ?? []) if (!all[name]?.setup) throw new Error(`LIVETRACE_CAPTURE_ONLY: ${name} is not a packet with a setup`);
  if (!only) rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'schemas'), { recursive: true });

  const sb = await Sandbox.start({ prefix: 'livetrace-capv-' });
  try {
    const topo = await buildVerdictTopology(sb);
    const hasDetrace = (await sb.appctl('list-commands')).includes('ofproto/detrace');
    if (!only) writeFileSync(join(out, 'topology.json'), JSON.stringify({ pair, ovs: m[1], ovn: m[2], ...topo, dpPorts: Object.fromEntries(topo.dpPorts) }, null, 1) + '\n');
    const sock = (f: string) => `unix:${sb.dir}/${f}`;
    const dumpDb = (s: string, db: string) => sb.tool('ovsdb-client', 'dump', '--format=json', sock(s), db);
    // The databases every packet without a setup of its own is read against, dumped before the first
    // setup: changing OVN's configuration (drop sampling) replaces logical flows with new UUIDs.
    const dumped = new Map<string, string>();
    for (const [name, p] of Object.entries(all)) {
      if (only && !only.includes(name)) continue;
      if (p.setup && !dumped.size) for (const [file, , s, db] of DUMPS) dumped.set(file, await dumpDb(s, db));
      const dir = join(out, name);
      mkdirSync(join(dir, 'traces'), { recursive: true });
      await p.setup?.(sb);
      await sb.appctl('revalidator/purge');
      await sb.appctl('dpctl/flush-conntrack');
      const flow = `in_port(${topo.dpPorts.get(p.iface)}),${p.flow}`;
      writeFileSync(join(dir, 'packets.txt'), `${p.iface}\t${flow}\t${p.count}\n`);
      writeFileSync(join(dir, 'tx-before.txt'), await sb.appctl('dpctl/show', '-s'));
      // One packet a call: the later ones of a connection then meet its conntrack entry.
      for (let i = 0; i < p.count; i++) await sb.inject(p.iface, flow, 1);
      const dump = await sb.appctl('dpctl/dump-flows', '-m');
      const dpif = await sb.appctl('dpif/show');
      const traces: Array<[string, string]> = [];
      for (const f of parseDumpFlows(dump).items) {
        if (!f.ufid) continue;
        try {
          traces.push([f.ufid, await sb.appctl('ofproto/trace', traceKey(f.key))]);
        } catch (err) {
          traces.push([f.ufid, `ERROR ${(err as Error).message}`]);
        }
      }
      // ovn-controller answers paused actions (ARP, ICMP) asynchronously: let it send before counting.
      await new Promise((r) => setTimeout(r, 1000));
      writeFileSync(join(dir, 'tx-after.txt'), await sb.appctl('dpctl/show', '-s'));
      if (hasDetrace) {
        // A ukey gets its translation cache when revalidated after carrying packets: send the
        // packet once more (tx counters are already taken) and ask until each flow answers (5 s).
        mkdirSync(join(dir, 'detrace'), { recursive: true });
        await sb.inject(p.iface, flow, 1);
        const pending = new Map(parseDumpFlows(dump).items.filter((f) => f.ufid).map((f) => [f.ufid!, pmdOf(f)]));
        for (let round = 0; round < 25 && pending.size; round++) {
          await new Promise((r) => setTimeout(r, 200));
          for (const [ufid, pmd] of [...pending]) {
            const args = pmd == null ? [`ufid:${ufid}`] : [`ufid:${ufid}`, `pmd=${pmd}`];
            const text = await sb.appctl('ofproto/detrace', ...args).catch((err: Error) => `ERROR ${err.message}`);
            if (/was not found|^ERROR/.test(text)) continue;
            writeFileSync(join(dir, 'detrace', `${ufid}.txt`), text);
            pending.delete(ufid);
          }
        }
        if (pending.size) console.log(`${name}: no detrace answer for ${[...pending.keys()].join(', ')}`);
      }
      writeFileSync(join(dir, 'dump-flows.txt'), dump);
      writeFileSync(join(dir, 'dpif-show.txt'), dpif);
      for (const [ufid, text] of traces) writeFileSync(join(dir, 'traces', `${ufid}.txt`), text);
      // A packet with a setup is read against the databases as they were while it went through.
      if (p.setup) for (const [file, , s, db] of DUMPS) writeFileSync(join(dir, file), await dumpDb(s, db));
      await p.teardown?.(sb);
      console.log(`${name}: ${traces.length} flows`);
    }
    for (const [file, schema, s, db] of only ? [] : DUMPS) {
      if (!dumped.has(file)) dumped.set(file, await dumpDb(s, db));
      writeFileSync(join(out, file), dumped.get(file)!);
      writeFileSync(join(out, 'schemas', schema), await sb.tool('ovsdb-client', 'get-schema', sock(s), db));
    }
    console.log(`captured ${pair} (${versions}) into ${out}`);
  } finally {
    await sb.stop();
  }
}

main().catch((err) => {
  console.error(`capture-verdict-fixtures: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
