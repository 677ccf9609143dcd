// What a stored history holds beyond the verdict packets, for every GET route to be asked over it:
// one definition for scripts/compare-routes (two trees on one SQLite file) and test/postgres/
// same-answers.spec.ts (SQLite and PostgreSQL on one history), so that both compare answers over
// the same sessions, flows and ingested events. Data and requests only: the sandbox and the service
// are the caller's (compare-routes takes them from the tree that makes the history).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VERDICT_MAC as MAC } from './verdict-topology';

/** One POST however the caller reaches the service; `type` is the Content-Type (JSON by default). */
export type Post = (url: string, body: unknown, type?: string) => Promise<{ status: number; body: unknown }>;

const RETIS = resolve(__dirname, '../fixtures/documented/retis');

/**
 * Sessions that end in every state besides lsp1's live one (the caller's): an auto-cross-checked
 * filter on SSH (the caller stops it; its id returned), lsp1's ICMP completing at maxTraces, lsp3's
 * expiring after a second.
 */
export async function endingSessions(post: Post): Promise<{ ssh: number }> {
  const ssh = (await post('/trace-sessions', { filter: 'tcp,tp_dst=22', crossCheck: true })).body as { id: number };
  await post('/trace-sessions', { logicalPort: 'lsp1', filter: 'icmp', maxTraces: 2 });
  await post('/trace-sessions', { logicalPort: 'lsp3', durationSeconds: 1 });
  return { ssh: ssh.id };
}

/** A ping from lsp`from` to lsp`to` on sw0 of the verdict topology, as a datapath flow on `dpPorts`. */
export const pingFlow = (dpPorts: Map<string, number>, from: number, to: number) =>
  `in_port(${dpPorts.get(`vif${from}`)}),eth(src=${MAC(from)},dst=${MAC(to)}),eth_type(0x0800),ipv4(src=10.0.0.${from},dst=10.0.0.${to},proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)`;

/** On-demand traces: a hand-typed OpenFlow flow (no datapath flow behind it) and an installed datapath flow by UFID. */
export async function onDemandTraces(post: Post, dpPorts: Map<string, number>, liveUfid: string | undefined): Promise<HandTypedPath> {
  const hand = await post('/traces', { bridge: 'br-int', flow: `in_port=${dpPorts.get('vif1')},icmp,dl_src=${MAC(1)},dl_dst=${MAC(3)},nw_src=10.0.0.1,nw_dst=10.0.0.3` });
  if (liveUfid) await post(`/datapath-flows/${liveUfid}/trace`, {});
  return (hand.body as { path: HandTypedPath }).path;
}

/** The path POST /traces answers with: every pass ofproto/trace simulated, in order. */
export interface HandTypedPath {
  id: number;
  verdict: { kinds: string[]; incomplete: boolean };
  passes: Array<{ id: number; recircId: string }>;
}

/** The UFID of the ingested lifetime. */
export const INGESTED_UFID = 'c3eaf764-0b75-4369-bd29-5dd907c66fb9';
const T = '2026-11-27T05:21:55.633Z';
const KEY = 'recirc_id(0),dp_hash(0/0),skb_priority(0/0),in_port(2),skb_mark(0/0),eth(src=50:54:00:00:00:01/01:00:00:00:00:00,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1/0.0.0.0,dst=10.0.0.2/0.0.0.0,proto=1,frag=no)';

/** USDT-style NDJSON: one lifetime from creation to removal, its upcall and translation, an unlinked upcall, and a line that is not JSON. */
export function usdtNdjson(): string {
  const events = [
    { type: 'ukey_created', id: 'c1', time: T, ufid: INGESTED_UFID, key: KEY, actions: 'ct(zone=1),recirc(0x1)', packets: 1, bytes: 98 },
    { type: 'upcall', id: 'u1', time: T, upcallType: 'miss', key: 'recirc_id(0),in_port(2),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800)', thread: 'handler1', ufid: INGESTED_UFID },
    { type: 'translation', id: 't1', time: T, ufid: INGESTED_UFID, upcallId: 'u1', text: readFileSync(join(RETIS, `${INGESTED_UFID}.trace.txt`), 'utf8') },
    { type: 'ukey_updated', id: 'd1', time: '2026-11-27T05:21:56Z', ufid: INGESTED_UFID, packets: 7, bytes: 686 },
    { type: 'ukey_revalidated', id: 'r1', time: '2026-11-27T05:21:57Z', ufid: INGESTED_UFID, result: 'KEEP', reason: 'NONE' },
    { type: 'upcall', id: 'u2', time: '2026-11-27T05:22:00Z', upcallType: 'action', key: 'recirc_id(0),in_port(3)', thread: 'handler2' },
    { type: 'ukey_removed', id: 'x1', time: '2026-11-27T05:23:00Z', ufid: INGESTED_UFID, reason: 'idle' },
  ];
  return events.map((e) => JSON.stringify(e)).join('\n') + '\n{"type":"upcall"\n';
}

/** The ingested events: usdtNdjson() as source usdt and retis's documented events. */
export async function ingestEvents(post: Post): Promise<void> {
  await post('/ingest/events?source=usdt', usdtNdjson(), 'application/x-ndjson');
  await post('/ingest/retis', readFileSync(join(RETIS, 'events.json'), 'utf8'), 'application/x-ndjson');
}
