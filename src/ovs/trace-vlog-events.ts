import { OdpAction, parseActions } from './odp-actions';
import { OdpKey, parseKey } from './odp-key';
import { OvsParseError } from './parse-error';
import { tryParse } from './trace-error';

/**
 * What a vswitchd log message says about upcalls and datapath flows, recognised from the message
 * text alone (lib/dpif-netdev.c dp_netdev_upcall / log_netdev_flow_change, lib/dpif.c dpif_recv /
 * log_flow_message, lib/vlog.c rate limiting). Keys and actions stay raw ODP text: the ODP parsers
 * read them when a consumer needs fields, so a key format this parser never saw is not lost.
 */

export type VlogEvent =
  | UpcallEvent
  | FlowChangeEvent
  | FlowMatchEvent
  | DpifFlowOpEvent
  | DroppedMessagesEvent;

/** `ovs-system: miss upcall:` + key line + packet line (netdev), `system@ovs-system: …` (kernel). */
export interface UpcallEvent {
  readonly type: 'upcall';
  readonly dpif: string;
  /** `miss`, `action` (userspace() action, e.g. controller), or another dpif_upcall_type name. */
  readonly upcallType: string;
  /** Full ODP key of the packet (no masks). */
  readonly key: string;
  /** The packet as ofp_dp_packet_to_string printed it. */
  readonly packet: string;
  /** `key` read by the ODP key parser; null if it could not be (see `parseErrors`). */
  readonly parsedKey: OdpKey | null;
  readonly parseErrors: readonly OvsParseError[];
}

/** Userspace datapath install (`flow_add`) or change of actions (`flow_mod`). */
export interface FlowChangeEvent {
  readonly type: 'flow_add' | 'flow_mod';
  readonly ufid: string;
  readonly megaUfid: string;
  /** ODP key with masks, as installed. */
  readonly key: string;
  readonly oldActions: string | null;
  readonly actions: string;
  /** The `flow match: …` message logged right after it (OpenFlow-style match), when seen. */
  readonly flowMatch: string | null;
  readonly parsedKey: OdpKey | null;
  readonly parsedActions: readonly OdpAction[] | null;
  readonly parseErrors: readonly OvsParseError[];
}

/** A `flow match:` line that could not be joined to a flow_add / flow_mod of its thread. */
export interface FlowMatchEvent {
  readonly type: 'flow_match';
  readonly match: string;
}

/** lib/dpif.c: `put[create]`, `put[modify]`, `flow_del`, … and their `failed to … (reason)` forms. */
export interface DpifFlowOpEvent {
  readonly type: 'flow_put' | 'flow_del' | 'flow_get' | 'flow_dump';
  readonly dpif: string;
  /** put flags in order: `create`, `modify`, `zero`. */
  readonly flags: readonly string[];
  /** strerror text of a failure (`File exists`), null on success. */
  readonly failure: string | null;
  readonly ufid: string | null;
  readonly key: string;
  /** `packets:N, bytes:N, used:…[, flags:…]` when logged. */
  readonly stats: string | null;
  readonly actions: string | null;
  readonly parsedKey: OdpKey | null;
  readonly parsedActions: readonly OdpAction[] | null;
  readonly parseErrors: readonly OvsParseError[];
}

/** `Dropped N log messages in last S seconds (most recently, R seconds ago) due to excessive rate`. */
export interface DroppedMessagesEvent {
  readonly type: 'dropped_messages';
  readonly count: number;
  readonly seconds: number;
  readonly mostRecentSecondsAgo: number;
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const UPCALL = /^(\S+): ([a-z_]+) upcall:$/;
const FLOW_CHANGE = new RegExp(`^flow_(add|mod): ufid:(${UUID}) mega_ufid:(${UUID}) `);
const DPIF_OP = new RegExp(
  `^(\\S+): (failed to )?(put((?:\\[[a-z]+\\])*)|flow_del|flow_get|flow_dump) (?:\\(([^)]*)\\) )?(?:ufid:(${UUID}) )?`,
);
const DROPPED = /^Dropped (\d+) log messages in last (\d+) seconds \(most recently, (\d+) seconds ago\) due to excessive rate$/;

/**
 * Reads one complete message (first line + continuation lines). Returns null for messages this
 * module does not know, the event for known ones, and throws OvsParseError for a known message
 * that is malformed (its `position` is an offset into `text`, the message joined with `\n`).
 */
export function classifyVlogMessage(head: string, continuation: readonly string[]): VlogEvent | null {
  const text = [head, ...continuation].join('\n');
  let m: RegExpExecArray | null;
  if ((m = UPCALL.exec(head))) {
    if (continuation.length !== 2) {
      throw new OvsParseError('vswitchd upcall log', text, head.length, `expected a key line and a packet line, got ${continuation.length} lines`);
    }
    const errors: OvsParseError[] = [];
    const parsedKey = tryParse(parseKey, continuation[0], errors);
    return { type: 'upcall', dpif: m[1], upcallType: m[2], key: continuation[0], packet: continuation[1], parsedKey, parseErrors: errors };
  }
  if (continuation.length > 0) return null;
  if ((m = FLOW_CHANGE.exec(head))) return flowChange(head, m);
  if (head.startsWith('flow match: ')) return { type: 'flow_match', match: head.slice('flow match: '.length) };
  if ((m = DPIF_OP.exec(head))) return dpifOp(head, m);
  if ((m = DROPPED.exec(head))) {
    return { type: 'dropped_messages', count: Number(m[1]), seconds: Number(m[2]), mostRecentSecondsAgo: Number(m[3]) };
  }
  return null;
}

function flowChange(head: string, m: RegExpExecArray): FlowChangeEvent {
  const body = head.slice(m[0].length);
  const isMod = m[1] === 'mod';
  const what = `vswitchd flow_${m[1]} log`;
  let key: string;
  let oldActions: string | null = null;
  let actions: string;
  if (isMod) {
    const oldAt = body.indexOf(', old_actions:');
    const newAt = oldAt < 0 ? -1 : body.indexOf(', actions:', oldAt);
    if (oldAt < 0 || newAt < 0) throw new OvsParseError(what, head, m[0].length, 'expected ", old_actions:…, actions:…"');
    key = body.slice(0, oldAt);
    oldActions = body.slice(oldAt + ', old_actions:'.length, newAt);
    actions = body.slice(newAt + ', actions:'.length);
  } else {
    const at = body.indexOf(', actions:');
    if (at < 0) throw new OvsParseError(what, head, m[0].length, 'expected ", actions:"');
    key = body.slice(0, at);
    actions = body.slice(at + ', actions:'.length);
  }
  const errors: OvsParseError[] = [];
  const parsedKey = tryParse(parseKey, key, errors);
  const parsedActions = tryParse(parseActions, actions, errors);
  return { type: isMod ? 'flow_mod' : 'flow_add', ufid: m[2], megaUfid: m[3], key, oldActions, actions, flowMatch: null, parsedKey, parsedActions, parseErrors: errors };
}

function dpifOp(head: string, m: RegExpExecArray): DpifFlowOpEvent {
  let body = head.slice(m[0].length);
  let actions: string | null = null;
  const actionsAt = body.indexOf(', actions:');
  if (actionsAt >= 0) {
    actions = body.slice(actionsAt + ', actions:'.length);
    body = body.slice(0, actionsAt);
  }
  let stats: string | null = null;
  const statsAt = body.indexOf(', packets:');
  if (statsAt >= 0) {
    stats = body.slice(statsAt + 2);
    body = body.slice(0, statsAt);
  }
  const failed = m[2] !== undefined;
  if (failed !== (m[5] !== undefined)) {
    throw new OvsParseError('vswitchd dpif flow log', head, m[0].length, 'a failure must name its reason in parentheses');
  }
  const op = m[3].startsWith('put') ? 'flow_put' : (m[3] as 'flow_del' | 'flow_get' | 'flow_dump');
  const flags = (m[4] ?? '').split(/[[\]]+/).filter((f) => f !== '');
  const errors: OvsParseError[] = [];
  const parsedKey = body === '' ? null : tryParse(parseKey, body, errors);
  const parsedActions = actions === null ? null : tryParse(parseActions, actions, errors);
  return { type: op, dpif: m[1], flags, failure: m[5] ?? null, ufid: m[6] ?? null, key: body, stats, actions, parsedKey, parsedActions, parseErrors: errors };
}
