// Why a pass went to ovn-controller. OVN encodes every logical action that needs ovn-controller
// (arp { }, nd_ns { }, icmp4 { }, put_dhcp_opts, …) as an OpenFlow `controller(userdata=…)`
// whose userdata starts with the action's opcode (a 32-bit big-endian `enum action_opcode`,
// include/ovn/actions.h; new opcodes are only ever appended). Actions that wait for ovn-controller
// to send the packet on (arp/nd_ns resolution on newer OVN) add `pause`.
//
// The reason is read from the logical flow first (its actions are OVN's own words) and from the
// opcode when the step has no logical flow (stale or unknown cookie).
import type { AnnotatedStep, ControllerVerdict } from './types';

export type ControllerCause = ControllerVerdict;

/** enum action_opcode, in order (0 = ARP). */
const OPCODES: readonly string[] = [
  'ARP resolution', // ARP
  'MAC binding learned (put_arp)', // PUT_ARP
  'DHCPv4 reply (put_dhcp_opts)', // PUT_DHCP_OPTS
  'ND neighbour advertisement', // ND_NA
  'MAC binding learned (put_nd)', // PUT_ND
  'DHCPv6 reply (put_dhcpv6_opts)', // PUT_DHCPV6_OPTS
  'DNS lookup', // DNS_LOOKUP
  'ACL log', // LOG
  'router advertisement (put_nd_ra_opts)', // PUT_ND_RA_OPTS
  'ND resolution', // ND_NS
  'ICMP error', // ICMP (icmp4 { } / icmp6 { })
  'TCP reset', // TCP_RESET
  'ND neighbour advertisement (router)', // ND_NA_ROUTER
  'ICMP error (fragmentation needed)', // PUT_ICMP4_FRAG_MTU
  'ICMP error', // ICMP4_ERROR
  'controller event (trigger_event)', // EVENT
  'IGMP snooping', // IGMP
  'virtual port binding (bind_vport)', // BIND_VPORT
  'service monitor reply (handle_svc_check)', // HANDLE_SVC_CHECK
  'DHCPv6 server reply', // DHCP6_SERVER
  'ICMPv6 error', // ICMP6_ERROR
  'ICMPv6 error (packet too big)', // PUT_ICMP6_FRAG_MTU
  'ACL reject', // REJECT
  'BFD message', // BFD_MSG
  'SCTP abort', // SCTP_ABORT
  'FDB entry learned (put_fdb)', // PUT_FDB
  'activation strategy RARP', // ACTIVATION_STRATEGY_RARP
  'split buffer', // SPLIT_BUF_ACTION
  'DHCP relay request check', // DHCP_RELAY_REQ_CHK
];

/** OVN logical actions that reach ovn-controller, by the first word of the statement. */
const ACTION_WORDS: ReadonlyArray<[RegExp, string]> = [
  [/(^|[;{\s])arp\s*\{/, 'ARP resolution'],
  [/(^|[;{\s])nd_ns\s*\{/, 'ND resolution'],
  [/(^|[;{\s])icmp4_error\s*\{/, 'ICMP error'],
  [/(^|[;{\s])icmp6_error\s*\{/, 'ICMPv6 error'],
  [/(^|[;{\s])icmp4\s*\{/, 'ICMP error'],
  [/(^|[;{\s])icmp6\s*\{/, 'ICMPv6 error'],
  [/(^|[;{\s])tcp_reset\s*\{/, 'TCP reset'],
  [/(^|[;{\s])sctp_abort\s*\{/, 'SCTP abort'],
  [/(^|[;{\s])reject\s*\{/, 'ACL reject'],
  [/(^|[;{\s])nd_na_router\s*\{/, 'ND neighbour advertisement (router)'],
  [/(^|[;{\s])nd_na\s*\{/, 'ND neighbour advertisement'],
  [/(^|[;{\s])put_arp\s*\(/, 'MAC binding learned (put_arp)'],
  [/(^|[;{\s])put_nd\s*\(/, 'MAC binding learned (put_nd)'],
  [/put_dhcp_opts\s*\(/, 'DHCPv4 reply (put_dhcp_opts)'],
  [/put_dhcpv6_opts\s*\(/, 'DHCPv6 reply (put_dhcpv6_opts)'],
  [/dns_lookup\s*\(/, 'DNS lookup'],
  [/put_nd_ra_opts\s*\(/, 'router advertisement (put_nd_ra_opts)'],
  [/(^|[;{\s])log\s*\(/, 'ACL log'],
  [/(^|[;{\s])igmp\s*;/, 'IGMP snooping'],
  [/trigger_event\s*\(/, 'controller event (trigger_event)'],
  [/bind_vport\s*\(/, 'virtual port binding (bind_vport)'],
  [/handle_svc_check\s*\(/, 'service monitor reply (handle_svc_check)'],
  [/put_fdb\s*\(/, 'FDB entry learned (put_fdb)'],
];

const CONTROLLER = /^controller\((.*)\)$/;
/** enum action_opcode's ACTION_OPCODE_LOG: pinctrl only logs the copy it is sent (handle_acl_log). */
const LOG_OPCODE = 7;

const isPaused = (text: string): boolean => /(^|,)pause\)?$/.test(CONTROLLER.exec(text)![1]) || /,pause(,|\))/.test(text);

/**
 * True when the pass's controller actions are all ACL logs: an OpenFlow controller action that
 * does not pause sends ovn-controller a copy and the pipeline goes on, and a log's copy is only
 * logged, so where the packet went is what the rest of the pass did (a logged drop is a drop).
 */
export function onlyLogCopies(steps: readonly AnnotatedStep[]): boolean {
  let any = false;
  for (const s of steps) {
    for (const line of s.actions.split('\n')) {
      const text = line.trim();
      if (!CONTROLLER.test(text)) continue;
      if (userdataOpcode(text) !== LOG_OPCODE || isPaused(text)) return false;
      any = true;
    }
  }
  return any;
}

/** The opcode in `controller(userdata=00.00.00.0a.…)`: the first four bytes, big-endian. */
export function userdataOpcode(action: string): number | null {
  const m = /userdata=((?:[0-9a-f]{2}\.){3}[0-9a-f]{2})/i.exec(action);
  if (!m) return null;
  return m[1].split('.').reduce((n, b) => n * 256 + parseInt(b, 16), 0);
}

export function reasonOfOpcode(opcode: number | null): string | null {
  if (opcode === null) return null;
  return OPCODES[opcode] ?? `OVN controller action, opcode ${opcode}`;
}

export function reasonOfLogicalActions(actions: string): string | null {
  for (const [re, reason] of ACTION_WORDS) if (re.test(actions)) return reason;
  return null;
}

/** The last step of the pass that sends the packet to the controller, and why; undefined when none. */
export function controllerCause(steps: readonly AnnotatedStep[]): ControllerCause | undefined {
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i];
    const action = s.actions.split('\n').reverse().find((a) => CONTROLLER.test(a.trim()));
    if (!action) continue;
    const text = action.trim();
    const lf = s.owners[0]?.logicalFlow; // the owner the rule came from (annotate.ts)
    const opcode = userdataOpcode(text);
    const reason = (lf ? reasonOfLogicalActions(lf.actions) : null) ?? reasonOfOpcode(opcode) ?? 'sent to the controller';
    return {
      reason,
      opcode,
      paused: isPaused(text),
      stepSeq: s.seq,
      logicalFlowUuid: lf?.uuid ?? null,
      stage: lf?.stage ?? null,
    };
  }
  return undefined;
}
