// A datapath flow's dump lines with a copy on each PMD given, as a real userspace datapath with two
// PMDs dumped it (OVS 3.1 sandbox, dummy-pmd ports, pmd-cpu-mask=3, packets sent to a receive queue
// of each PMD): the captured line, its counters set per copy. Shared by the specs of PMD copies
// (datapath-diff-pmd-copies.spec.ts, poller-restart-pmd-copies*.spec.ts).
import { EventEmitter } from 'node:events';
import { LifetimeSpoolBound } from '../../src/collectors/lifetime-spool-bound';
import { PollerService } from '../../src/collectors/poller.service';
import { loadConfig } from '../../src/config/config';
import { DatapathFlowStore } from '../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../src/metrics/metrics.service';
import { parseDumpFlows } from '../../src/ovs/dump-flows';
import type { StoreWriter } from '../../src/storage/writer';
import type { MigratedSqlite } from './migrated-sqlite';

export const PMD_FLOW_KEY =
  'skb_priority(0/0),skb_mark(0/0),ct_state(0/0),ct_zone(0/0),ct_mark(0/0),ct_label(0/0),recirc_id(0),dp_hash(0/0),in_port(p1),packet_type(ns=0,id=0),eth(src=50:54:00:00:0a:01,dst=50:54:00:00:0a:02),eth_type(0x0800),ipv4(src=10.9.0.1/0.0.0.0,dst=10.9.0.2/0.0.0.0,proto=17/0,tos=0/0,ttl=64/0,frag=no),udp(src=4000/0,dst=5000/0)';
export const PMD_FLOW_UFID = 'a4652428-bf00-48ff-ba7c-8b1526762640';
/** Bytes a packet of the capture. */
export const PMD_PACKET_BYTES = 106;

/** One copy's line (as under its PMD's header). */
export const pmdCopyLine = (packets: number, actions = 'brp,p2'): string =>
  `ufid:${PMD_FLOW_UFID}, ${PMD_FLOW_KEY}, packets:${packets}, bytes:${packets * PMD_PACKET_BYTES}, used:0.829s, dp:ovs, actions:${actions}, dp-extra-info:miniflow_bits(5,1)`;

/** The dump text with a copy on each core given (core → packets), in core order, as dpif-netdev lists them. */
export const pmdCopiesText = (copies: Record<number, number>, actions?: string): string =>
  Object.entries(copies)
    .map(([core, n]) => `flow-dump from pmd on cpu core: ${core}\n${pmdCopyLine(n, actions)}`)
    .join('\n');

/** The same dump, parsed as the poller reads it. */
export const pmdCopiesDump = (copies: Record<number, number>, actions?: string) => parseDumpFlows(pmdCopiesText(copies, actions), { build: 'on-read' }).items;

/** A poller's counters for `packets` packets of the capture. */
export const pmdCounts = (packets: number) => ({ packets, bytes: packets * PMD_PACKET_BYTES });

/**
 * A run of the service's poller of `chassis` on a migrated store, answered `dump()` by the ovs-vswitchd
 * of `pid` (a function: one that restarts): it picks up the lifetimes a previous run left open, as at
 * its start (PollerService.seedFromStore).
 * Shared by the poller-restart-pmd-copies* specs.
 */
export function restartedPoller(m: MigratedSqlite & { writer: StoreWriter }, dump: () => string, pid: number | (() => number) = 1, chassis = 'hv1'): PollerService {
  const pidNow = typeof pid === 'number' ? () => pid : pid;
  const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false' });
  const vswitchd = Object.assign(new EventEmitter(), { call: async () => dump(), callServed: async () => ({ text: dump(), pid: pidNow() }), invalidateDatapath: () => undefined });
  Object.defineProperty(vswitchd, 'currentPid', { get: pidNow });
  const metrics = new MetricsService();
  const store = { writer: m.writer, shipper: { state: { full: false } } };
  const p = new PollerService(config, vswitchd as never, store as never, new DatapathFlowStore({ db: m.db }), { chassisName: () => chassis } as never, metrics, new LifetimeSpoolBound(store as never, metrics));
  // Its first cycle picks them up; here at once, as the specs' dumps change after this call.
  (p as unknown as { seedFromStore(): boolean }).seedFromStore();
  return p;
}
