/**
 * Evidence for the first-cycle cost of DatapathFlowTable.apply (src/collectors/datapath-diff.ts):
 * the first apply of N flows, and the recirculation links it returns, at growing N, on two shapes
 * of dump: the replayed captured lines (as poller.ts replay) and the real sandbox shape (one VM
 * opening many TCP connections: every pass-0 flow recirculates into the same recirc id, and all
 * children carry the same MACs). Pure: no daemon, no database.
 *
 * Usage: links.ts [SIZES=1000,2000,4000]
 */
import { DatapathFlowTable } from '../../src/collectors/datapath-diff';
import { parseDumpFlows } from '../../src/ovs/dump-flows';
import { emit, replayLines } from './common';

/** The three passes of a TCP SYN from lsp1 to lsp2 as the sandbox dumps them (megaflows off). */
function sandboxLines(flows: number): string[] {
  const out: string[] = [];
  const common = 'dp_hash(0),in_port(vif1),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800)';
  for (let i = 0; out.length < flows; i++) {
    const sport = 1024 + i;
    const ip = `ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=${sport},dst=80),tcp_flags(syn)`;
    const tuple = `ct_tuple4(src=10.0.0.1,dst=10.0.0.2,proto=6,tp_src=${sport},tp_dst=80)`;
    const u = (n: number) => `ufid:${(i * 3 + n).toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
    const tail = 'packets:0, bytes:0, used:never, dp:ovs';
    out.push(`${u(0)}, skb_priority(0),skb_mark(0),ct_state(0/0xff),ct_zone(0),ct_mark(0),ct_label(0),recirc_id(0),${common},${ip}, ${tail}, actions:ct(zone=1),recirc(0x1)`);
    out.push(`${u(1)}, skb_priority(0),skb_mark(0),ct_state(0x21/0xff),ct_zone(0x1),ct_mark(0),ct_label(0),${tuple},recirc_id(0x1),${common},${ip}, ${tail}, actions:ct(commit,zone=1,mark=0/0x1,nat(src)),ct(zone=4),recirc(0x2)`);
    out.push(`${u(2)}, skb_priority(0),skb_mark(0),ct_state(0x21/0xff),ct_zone(0x4),ct_mark(0),ct_label(0),${tuple},recirc_id(0x2),${common},${ip}, ${tail}, actions:ct(commit,zone=4,mark=0/0x1,nat(src)),3`);
  }
  return out.slice(0, flows);
}

function firstApply(lines: string[]): { ms: number; links: number } {
  const dump = parseDumpFlows(`${lines.join('\n')}\n`);
  const table = new DatapathFlowTable();
  const t0 = performance.now();
  const { links } = table.apply(dump.items, new Date().toISOString());
  return { ms: Math.round(performance.now() - t0), links: links.length };
}

const sizes = (process.argv[2] ?? '1000,2000,4000').split(',').map(Number);
const rows = sizes.map((n) => {
  const replay = firstApply(replayLines(n).lines);
  const sandbox = firstApply(sandboxLines(n));
  const row = { flows: n, replay, sandbox, sandboxPackets: Math.ceil(n / 3) };
  process.stderr.write(`  [links] ${JSON.stringify(row)}\n`);
  return row;
});
emit({ bench: 'links', rows });
