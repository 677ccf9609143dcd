// The router topology of the verdict tests (and of the version-matrix report): what a current
// OVN deployment carries, on one chassis, with packets whose fate is known in advance.
//
//   lsp1 10.0.0.1 ─┐                                   ┌─ lsp4 172.16.0.4 (an "outside" host)
//   lsp2 10.0.0.2 ─┼─ sw0 ── lr0 (gateway router on hv1) ── ext
//   lsp3 10.0.0.3 ─┘  10.0.0.254       172.16.0.254
//
// - lb0 on sw0: VIP 10.0.0.100:80 → 10.0.0.3:80 (tcp);
// - lr0: SNAT 10.0.0.0/24 → 172.16.0.254, a static route 192.168.100.0/24 via 172.16.0.99, a next
//   hop nobody answers for (lr0 asks ovn-controller to ARP for it: a paused controller action);
// - port group pg_web = {lsp2, lsp3}: to-lport allow-related for ip4 (sw0 is stateful) and a
//   to-lport drop of tcp.dst == 22 at a higher priority, and a reject of tcp.dst == 23 (the
//   rejected packet goes to ovn-controller, which answers a TCP reset), and a logged drop of
//   tcp.dst == 24 (ovn-controller gets a copy to log; the packet is dropped).
//
// Every packet is sent from lsp1 (vif1). `VERDICT_PACKETS` says what the datapath must do with it;
// tests compare that with the service's path verdict and with the interfaces' tx counters.
import { Sandbox } from './sandbox';

export const VERDICT_MAC = (n: number) => `50:54:00:00:00:0${n}`;
export const ROUTER_MAC = { sw0: '00:00:00:00:ff:01', ext: '00:00:00:00:ff:02' };

export interface VerdictTopology {
  /** UUID of the pg_web drop ACL (tcp.dst == 22). */
  dropAcl: string;
  /** UUID of the pg_web allow-related ACL. */
  allowAcl: string;
  /** UUID of the pg_web reject ACL (tcp.dst == 23). */
  rejectAcl: string;
  /** UUID of the pg_web logged drop ACL (tcp.dst == 24, log=true). */
  logAcl: string;
  lb: string;
  snat: string;
  /** Datapath port numbers by interface name (dpif/show), for in_port(N). */
  dpPorts: Map<string, number>;
}

/** Builds the topology in a started sandbox and waits until ovn-controller installed it. */
export async function buildVerdictTopology(sb: Sandbox): Promise<VerdictTopology> {
  const nb = (...a: string[]) => sb.nbctl(...a);
  await nb('ls-add', 'sw0');
  for (const i of [1, 2, 3]) {
    await nb('lsp-add', 'sw0', `lsp${i}`, '--', 'lsp-set-addresses', `lsp${i}`, `${VERDICT_MAC(i)} 10.0.0.${i}`);
    await sb.bind(`lsp${i}`, `vif${i}`, i);
  }
  await nb('ls-add', 'ext');
  await nb('lsp-add', 'ext', 'lsp4', '--', 'lsp-set-addresses', 'lsp4', `${VERDICT_MAC(4)} 172.16.0.4`);
  await sb.bind('lsp4', 'vif4', 4);
  await nb('lr-add', 'lr0', '--', 'set', 'logical_router', 'lr0', 'options:chassis=hv1');
  await nb('lrp-add', 'lr0', 'lr0-sw0', ROUTER_MAC.sw0, '10.0.0.254/24');
  await nb('lsp-add', 'sw0', 'sw0-lr0', '--', 'lsp-set-type', 'sw0-lr0', 'router', '--', 'lsp-set-addresses', 'sw0-lr0', 'router',
    '--', 'lsp-set-options', 'sw0-lr0', 'router-port=lr0-sw0');
  await nb('lrp-add', 'lr0', 'lr0-ext', ROUTER_MAC.ext, '172.16.0.254/24');
  await nb('lsp-add', 'ext', 'ext-lr0', '--', 'lsp-set-type', 'ext-lr0', 'router', '--', 'lsp-set-addresses', 'ext-lr0', 'router',
    '--', 'lsp-set-options', 'ext-lr0', 'router-port=lr0-ext');
  await nb('lr-nat-add', 'lr0', 'snat', '172.16.0.254', '10.0.0.0/24');
  await nb('lr-route-add', 'lr0', '192.168.100.0/24', '172.16.0.99');
  await nb('lb-add', 'lb0', '10.0.0.100:80', '10.0.0.3:80', 'tcp');
  await nb('ls-lb-add', 'sw0', 'lb0');
  await nb('pg-add', 'pg_web', 'lsp2', 'lsp3');
  await nb('acl-add', 'pg_web', 'to-lport', '1002', 'outport == @pg_web && tcp.dst == 22', 'drop');
  await nb('acl-add', 'pg_web', 'to-lport', '1001', 'outport == @pg_web && ip4', 'allow-related');
  await nb('acl-add', 'pg_web', 'to-lport', '1003', 'outport == @pg_web && tcp.dst == 23', 'reject');
  await nb('--log', '--name=drop24', '--severity=info', 'acl-add', 'pg_web', 'to-lport', '1004', 'outport == @pg_web && tcp.dst == 24', 'drop');
  await nb('--wait=hv', 'sync');
  const uuid = async (...a: string[]) => (await nb('--bare', '--columns=_uuid', 'find', ...a)).trim();
  return {
    dropAcl: await uuid('acl', 'priority=1002'),
    allowAcl: await uuid('acl', 'priority=1001'),
    rejectAcl: await uuid('acl', 'priority=1003'),
    logAcl: await uuid('acl', 'priority=1004'),
    lb: await uuid('load_balancer', 'name=lb0'),
    snat: await uuid('nat', 'type=snat'),
    dpPorts: await sb.dpPorts(),
  };
}

export interface Expected {
  kind: 'output' | 'drop' | 'controller';
  /** Logical ports the packet leaves by (output). */
  outputs?: string[];
  /** Interfaces whose tx counter must grow (output), or must not (drop). */
  txIfaces?: string[];
  /** Northbound row that decided a drop (or a reject, sent to the controller). */
  acl?: 'dropAcl' | 'rejectAcl' | 'logAcl';
  /** Stage of the logical flow that decided a drop no ACL decided (OVN's default ACL drop). */
  stage?: RegExp;
  /** The controller reason. */
  reason?: RegExp;
}

export interface VerdictPacket {
  /** What the packet is, for test names. */
  what: string;
  iface: string;
  /** The ODP flow without in_port (the test adds in_port(N) from dpPorts). */
  flow: string;
  /** Packets of the same connection sent (the later ones take the established, NATed passes). */
  count: number;
  expect: Expected;
  /** Daemon configuration the packet needs, undone by `teardown` once it went through. */
  setup?: (sb: Sandbox) => Promise<void>;
  teardown?: (sb: Sandbox) => Promise<void>;
}

/**
 * OVN's drop debugging (NB_Global options:debug_drop_collector_set, since 22.12): every logical
 * drop also samples the packet to an IPFIX collector set of the integration bridge. A sample at
 * probability 65535 is a bare `userspace(pid=…,flow_sample(…))` in the datapath, not a packet-in.
 */
async function dropSampling(sb: Sandbox): Promise<void> {
  await sb.vsctl('--', '--id=@br', 'get', 'Bridge', 'br-int', '--', '--id=@i', 'create', 'IPFIX', 'targets="127.0.0.1:4739"',
    '--', 'create', 'Flow_Sample_Collector_Set', 'id=1', 'bridge=@br', 'ipfix=@i');
  await sb.nbctl('set', 'NB_Global', '.', 'options:debug_drop_collector_set=1', 'options:debug_drop_domain_id=1');
  await sb.nbctl('--wait=hv', 'sync');
}

async function noDropSampling(sb: Sandbox): Promise<void> {
  await sb.nbctl('remove', 'NB_Global', '.', 'options', 'debug_drop_collector_set', '--', 'remove', 'NB_Global', '.', 'options', 'debug_drop_domain_id');
  await sb.vsctl('--', '--all', 'destroy', 'Flow_Sample_Collector_Set', '--', '--all', 'destroy', 'IPFIX');
  await sb.nbctl('--wait=hv', 'sync');
}

function ip4(dstMac: string, dst: string, l4: string, proto: number, ttl = 64): string {
  return `eth(src=${VERDICT_MAC(1)},dst=${dstMac}),eth_type(0x0800),ipv4(src=10.0.0.1,dst=${dst},proto=${proto},tos=0,ttl=${ttl},frag=no),${l4}`;
}

export const VERDICT_PACKETS: Record<string, VerdictPacket> = {
  'same-switch': {
    what: 'ICMP lsp1 → lsp2 on sw0',
    iface: 'vif1',
    flow: ip4(VERDICT_MAC(2), '10.0.0.2', 'icmp(type=8,code=0)', 1),
    count: 1,
    expect: { kind: 'output', outputs: ['lsp2'], txIfaces: ['vif2'] },
  },
  'acl-drop': {
    what: 'TCP lsp1 → lsp2:22, dropped by the pg_web ACL',
    iface: 'vif1',
    flow: ip4(VERDICT_MAC(2), '10.0.0.2', 'tcp(src=40022,dst=22),tcp_flags(0x002)', 6),
    count: 1,
    expect: { kind: 'drop', acl: 'dropAcl', txIfaces: ['vif2'] },
  },
  'lb-vip': {
    what: 'TCP lsp1 → VIP 10.0.0.100:80, two packets of one connection, to backend lsp3',
    iface: 'vif1',
    flow: ip4(VERDICT_MAC(3), '10.0.0.100', 'tcp(src=40080,dst=80),tcp_flags(0x002)', 6),
    count: 2,
    expect: { kind: 'output', outputs: ['lsp3'], txIfaces: ['vif3'] },
  },
  'routed-snat': {
    what: 'ICMP lsp1 → 172.16.0.4 through lr0 with SNAT',
    iface: 'vif1',
    flow: ip4(ROUTER_MAC.sw0, '172.16.0.4', 'icmp(type=8,code=0)', 1),
    count: 1,
    expect: { kind: 'output', outputs: ['lsp4'], txIfaces: ['vif4'] },
  },
  'unresolved-next-hop': {
    what: 'UDP lsp1 → 192.168.100.1, next hop 172.16.0.99 not resolved',
    iface: 'vif1',
    flow: ip4(ROUTER_MAC.sw0, '192.168.100.1', 'udp(src=5000,dst=6000)', 17),
    count: 1,
    expect: { kind: 'controller', reason: /ARP/ },
  },
  'ttl-expired': {
    what: 'UDP lsp1 → 172.16.0.4 with TTL 1: lr0 answers an ICMP time exceeded',
    iface: 'vif1',
    flow: ip4(ROUTER_MAC.sw0, '172.16.0.4', 'udp(src=5001,dst=6001)', 17, 1),
    count: 1,
    expect: { kind: 'controller', reason: /ICMP/ },
  },
};

/**
 * Packets beyond the version matrix's six (VERDICT_PACKETS), checked by the verdict tests: an ACL
 * reject goes to ovn-controller (a TCP reset back to the sender), named by its ACL.
 */
export const EXTRA_VERDICT_PACKETS: Record<string, VerdictPacket> = {
  'acl-reject': {
    what: 'TCP lsp1 → lsp2:23, rejected by the pg_web ACL',
    iface: 'vif1',
    flow: ip4(VERDICT_MAC(2), '10.0.0.2', 'tcp(src=40023,dst=23),tcp_flags(0x002)', 6),
    count: 1,
    expect: { kind: 'controller', reason: /reject|TCP reset/, acl: 'rejectAcl', txIfaces: ['vif2'] },
  },
  hairpin: {
    what: 'ICMP lsp1 → its own MAC and address: OVN drops a packet whose logical outport is its inport',
    iface: 'vif1',
    flow: `eth(src=${VERDICT_MAC(1)},dst=${VERDICT_MAC(1)}),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.1,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)`,
    count: 1,
    expect: { kind: 'drop', txIfaces: ['vif1', 'vif2', 'vif3'] },
  },
  'gateway-mtu': {
    what: 'ICMP lsp1 → 172.16.0.4 through lr0 with gateway_mtu 1400 on lr0-ext: a short packet, delivered',
    iface: 'vif1',
    flow: ip4(ROUTER_MAC.sw0, '172.16.0.4', 'icmp(type=8,code=0)', 1),
    count: 1,
    expect: { kind: 'output', outputs: ['lsp4'], txIfaces: ['vif4'] },
    setup: async (sb) => {
      await sb.nbctl('--wait=hv', 'set', 'logical_router_port', 'lr0-ext', 'options:gateway_mtu=1400');
    },
    teardown: async (sb) => {
      await sb.nbctl('--wait=hv', 'remove', 'logical_router_port', 'lr0-ext', 'options', 'gateway_mtu');
    },
  },
  'acl-drop-logged': {
    what: 'TCP lsp1 → lsp2:24, dropped by the pg_web ACL that logs (a copy to ovn-controller)',
    iface: 'vif1',
    flow: ip4(VERDICT_MAC(2), '10.0.0.2', 'tcp(src=40024,dst=24),tcp_flags(0x002)', 6),
    count: 1,
    expect: { kind: 'drop', acl: 'logAcl', txIfaces: ['vif2'] },
  },
  'acl-default-drop': {
    what: 'ICMP lsp1 → lsp2 with NB_Global options:default_acl_drop=true: no ACL allows it, the default drops it',
    iface: 'vif1',
    flow: ip4(VERDICT_MAC(2), '10.0.0.2', 'icmp(type=8,code=0)', 1),
    count: 1,
    expect: { kind: 'drop', stage: /^ls_in_acl(_action)?$/, txIfaces: ['vif2'] },
    setup: async (sb) => {
      await sb.nbctl('--wait=hv', 'set', 'NB_Global', '.', 'options:default_acl_drop=true');
    },
    teardown: async (sb) => {
      await sb.nbctl('--wait=hv', 'remove', 'NB_Global', '.', 'options', 'default_acl_drop');
    },
  },
  'acl-drop-sampled': {
    what: 'TCP lsp1 → lsp2:22, dropped by the pg_web ACL with drop sampling on (a copy to IPFIX)',
    iface: 'vif1',
    flow: ip4(VERDICT_MAC(2), '10.0.0.2', 'tcp(src=40122,dst=22),tcp_flags(0x002)', 6),
    count: 1,
    expect: { kind: 'drop', acl: 'dropAcl', txIfaces: ['vif2'] },
    setup: dropSampling,
    teardown: noDropSampling,
  },
};

/** `dpctl/show -s` TX packets per interface name (immediate, unlike the database's statistics). */
export function txPackets(dpctlShow: string): Map<string, number> {
  const out = new Map<string, number>();
  let port: string | null = null;
  for (const line of dpctlShow.split('\n')) {
    const p = /^\s*port \d+: (\S+)/.exec(line);
    if (p) port = p[1];
    const t = /TX packets:(\d+)/.exec(line);
    if (t && port) out.set(port, Number(t[1]));
  }
  return out;
}
