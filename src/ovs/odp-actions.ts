import { OvsParseError } from './parse-error';
import type { OdpAction, OdpArg } from './odp-types';
import { COMMA, EQUALS, OPEN, SCAN_HASH, findClose, hashRange, itemEnd, skipSpaces, trimEnd } from './odp-scan';
import { EXACT, ITEM, OdpMemo, deepFreeze, prefixKey, rangeKey } from './odp-memo';
import { checkKeyFields, formatField, parseKeyFields } from './odp-key';

// The parsed shapes live in odp-types.ts; importers of the parser get them here too.
export type { OdpAction, OdpArg } from './odp-types';

/**
 * Datapath (ODP) actions as lib/odp-util.c prints them after `actions:` in dumps and after
 * `Datapath actions:` in traces: `ct(commit,zone=12,mark=0/0x1,nat(src)),set(ipv4(ttl=63)),vif2`.
 *
 * Nested lists (clone, check_pkt_len's gt/le, sample's actions) are parsed as actions; arguments
 * of other actions are kept as a small tree (`nat(src=10.0.0.1)` → nat → src=10.0.0.1), so
 * formatting gives the daemon's text back. Unknown actions keep their exact text.
 */

const WHAT = 'ODP actions';
const KNOWN_CALLS = new Set([
  'push_vlan', 'tnl_push', 'tnl_pop', 'userspace', 'hash', 'sample', 'meter', 'psample', 'lb_output',
  'trunc', 'push_eth', 'push_nsh', 'push_mpls', 'pop_mpls', 'add_mpls', 'dec_ttl',
]);
const WORDS = new Set(['ct_clear', 'pop_vlan', 'pop_eth', 'pop_nsh', 'ct_commit']);
/** Arguments whose contents are themselves action lists. */
const ACTION_LIST_ARGS = new Set(['actions', 'gt', 'le', 'le_1']);

export function parseActions(text: string): OdpAction[] {
  return parseActionList(text, 0, text.length);
}


export function parseActionList(s: string, start: number, end: number): OdpAction[] {
  const out: OdpAction[] = [];
  scanActionList(s, start, end, out);
  return out;
}

/**
 * The action list in text[start, end) through a dump's memo: a list or an action whose exact
 * text was parsed before is the same frozen structure again (OVN flows share a few dozen lists).
 */
export function parseSharedActionList(s: string, start: number, end: number, memo: OdpMemo): readonly OdpAction[] {
  const key = rangeKey(s, start, end);
  let list = memo.actionLists.find(s, start, end, key, EXACT);
  if (list === undefined) {
    const out: OdpAction[] = [];
    scanActionList(s, start, end, out, memo);
    list = out;
    if (memo.actionLists.repeated(hashRange(s, start, end))) memo.actionLists.set(s, start, end, key, deepFreeze(list));
  }
  return list;
}

/**
 * Checks text[start, end) against the same grammar as parseActionList without building anything
 * (same errors, same positions), so a dump can be checked whole and built flow by flow on demand.
 */
export function checkActionList(s: string, start: number, end: number): void {
  scanActionList(s, start, end, null);
}

function scanActionList(s: string, start: number, end: number, out: OdpAction[] | null, memo?: OdpMemo): void {
  let i = skipSpaces(s, start, end);
  while (i < end) {
    let stop: number;
    if (memo !== undefined && out !== null) {
      const key = prefixKey(s, i, end);
      let action = memo.actions.find(s, i, end, key, ITEM);
      if (action !== undefined) stop = i + memo.actions.found;
      else {
        stop = itemEnd(WHAT, s, i, end);
        const hash = SCAN_HASH[0];
        action = scanAction(s, i, trimEnd(s, i, stop), true, memo) as OdpAction;
        if (memo.actions.repeated(hash)) memo.actions.set(s, i, stop, key, deepFreeze(action));
      }
      out.push(action);
    } else {
      stop = itemEnd(WHAT, s, i, end);
      const action = scanAction(s, i, trimEnd(s, i, stop), out !== null);
      if (out !== null && action !== undefined) out.push(action);
    }
    if (stop < end) {
      i = skipSpaces(s, stop + 1, end);
      if (i >= end) throw new OvsParseError(WHAT, s, i, "expected an action after ','");
    } else i = end;
  }
}

function scanAction(s: string, i: number, end: number, build: boolean, memo?: OdpMemo): OdpAction | undefined {
  let j = i;
  while (j < end && s.charCodeAt(j) !== OPEN) j++;
  if (j === i) throw new OvsParseError(WHAT, s, i, 'expected an action');
  if (j === end) {
    for (let k = i; k < end; k++) {
      const c = s.charCodeAt(k);
      if (c === EQUALS || c === 32) throw new OvsParseError(WHAT, s, k, 'expected an action or a port');
    }
    if (!build) return undefined;
    const name = s.slice(i, j);
    if (name === 'drop') return { type: 'drop' };
    if (WORDS.has(name)) return { type: 'word', name };
    return { type: 'output', port: name };
  }
  const close = findClose(WHAT, s, j, end);
  if (close !== end - 1) throw new OvsParseError(WHAT, s, close + 1, "expected ',' after ')'");
  const a = j + 1;
  const name = s.slice(i, j);
  switch (name) {
    case 'recirc':
      // `recirc(%#"PRIx32")`: recircTargets parseInt'ed anything (recirc(0x1zz) led to 1, recirc(zz) to NaN).
      if (!isRecircId(s, a, close)) throw new OvsParseError(WHAT, s, a, 'expected a recirculation id (0x… up to 32 bits)');
      return build ? { type: 'recirc', id: s.slice(a, close) } : undefined;
    case 'ct': {
      const args = scanArgs(s, a, close, build);
      return args && { type: 'ct', args };
    }
    case 'set':
    case 'set_masked': {
      // Building parses once; the count is checked after (the errors and their order are the same).
      const fields = build ? parseKeyFields(s, a, close, memo) : undefined;
      if ((fields ? fields.length : checkKeyFields(s, a, close)) !== 1) {
        throw new OvsParseError(WHAT, s, a, 'expected one key field in set()');
      }
      return fields && { type: 'set', name, field: fields[0] };
    }
    case 'clone': {
      if (!build) return void scanActionList(s, a, close, null);
      return { type: 'clone', actions: parseActionList(s, a, close) };
    }
    case 'check_pkt_len':
      return parseCheckPktLen(s, a, close);
    default:
      if (KNOWN_CALLS.has(name)) {
        const args = scanArgs(s, a, close, build);
        return args && { type: 'call', name, args };
      }
      // Never fails: an unknown action falls back to its exact text.
      return build ? parseUnknown(name, s, i, a, close) : undefined;
  }
}

/** s[a, b) is `0x` and 1–8 hex digits, or decimal digits up to 4294967295. */
function isRecircId(s: string, a: number, b: number): boolean {
  const text = s.slice(a, b);
  if (/^0x[0-9a-f]{1,8}$/i.test(text)) return true;
  return /^\d{1,10}$/.test(text) && Number(text) <= 0xffffffff;
}

/** An action newer than this parser: structured when its arguments look usual, else verbatim. */
function parseUnknown(name: string, s: string, i: number, a: number, close: number): OdpAction {
  try {
    return { type: 'call', name, args: parseArgs(s, a, close) };
  } catch (e) {
    if (e instanceof OvsParseError) return { type: 'unknown', text: s.slice(i, close + 1) };
    throw e;
  }
}

function parseCheckPktLen(s: string, a: number, close: number): OdpAction {
  const args = parseArgs(s, a, close);
  const size = args.find((x) => x.name === 'size')?.value;
  const gt = args.find((x) => x.name === 'gt');
  const le = args.find((x) => x.name === 'le');
  if (size === undefined || !gt || !le || args.length !== 3) {
    throw new OvsParseError(WHAT, s, a, 'expected check_pkt_len(size=N,gt(…),le(…))');
  }
  return { type: 'check_pkt_len', size, gt: argActions(gt), le: argActions(le) };
}

/** Arguments carrying action lists are parsed as actions once, stored under the `actions` arg. */
function argActions(arg: OdpArg): OdpAction[] {
  return (arg as ArgWithActions).actions ?? [];
}

interface ArgWithActions extends OdpArg {
  readonly actions?: OdpAction[];
}

function parseArgs(s: string, start: number, end: number): OdpArg[] {
  return scanArgs(s, start, end, true) as OdpArg[];
}

function scanArgs(s: string, start: number, end: number, build: boolean): OdpArg[] | undefined {
  const out: OdpArg[] | undefined = build ? [] : undefined;
  let i = skipSpaces(s, start, end);
  while (i < end) {
    const stop = itemEnd(WHAT, s, i, end);
    const arg = scanArg(s, i, trimEnd(s, i, stop), build);
    if (out && arg) out.push(arg);
    if (stop < end) {
      i = skipSpaces(s, stop + 1, end);
      if (i >= end) throw new OvsParseError(WHAT, s, i, "expected an argument after ','");
    } else i = end;
  }
  return out;
}

function scanArg(s: string, i: number, end: number, build: boolean): OdpArg | undefined {
  if (i >= end) throw new OvsParseError(WHAT, s, i, 'expected an argument');
  for (let j = i; j < end; j++) {
    const c = s.charCodeAt(j);
    if (c === EQUALS) {
      if (j === i) throw new OvsParseError(WHAT, s, j, 'expected an argument name');
      return build ? { name: s.slice(i, j), value: s.slice(j + 1, end) } : undefined;
    }
    if (c === OPEN) {
      const close = findClose(WHAT, s, j, end);
      if (close !== end - 1) throw new OvsParseError(WHAT, s, close + 1, "expected ',' after ')'");
      const name = s.slice(i, j);
      if (ACTION_LIST_ARGS.has(name)) {
        if (!build) return void scanActionList(s, j + 1, close, null);
        const arg: ArgWithActions = { name, args: [], actions: parseActionList(s, j + 1, close) };
        return arg;
      }
      const args = scanArgs(s, j + 1, close, build);
      return args && { name, args };
    }
    if (c === COMMA) break;
  }
  return build ? { name: s.slice(i, end) } : undefined;
}

export function formatActions(actions: readonly OdpAction[]): string {
  let out = '';
  for (let i = 0; i < actions.length; i++) {
    if (i > 0) out += ',';
    out += formatAction(actions[i]);
  }
  return out;
}

export function formatAction(a: OdpAction): string {
  switch (a.type) {
    case 'output':
      return a.port;
    case 'drop':
      return 'drop';
    case 'word':
      return a.name;
    case 'recirc':
      return `recirc(${a.id})`;
    case 'ct':
      return `ct(${formatArgs(a.args)})`;
    case 'set':
      return `${a.name}(${formatField(a.field)})`;
    case 'clone':
      return `clone(${formatActions(a.actions)})`;
    case 'check_pkt_len':
      return `check_pkt_len(size=${a.size},gt(${formatActions(a.gt)}),le(${formatActions(a.le)}))`;
    case 'call':
      return `${a.name}(${formatArgs(a.args)})`;
    case 'unknown':
      return a.text;
  }
}

export function formatArgs(args: readonly OdpArg[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    if (i > 0) out += ',';
    const arg = args[i] as ArgWithActions;
    if (arg.actions) out += `${arg.name}(${formatActions(arg.actions)})`;
    else if (arg.value !== undefined) out += `${arg.name}=${arg.value}`;
    else if (arg.args) out += `${arg.name}(${formatArgs(arg.args)})`;
    else out += arg.name;
  }
  return out;
}

/** The nested action list of an argument such as sample's `actions(…)`, if it has one. */
export function nestedActions(arg: OdpArg): readonly OdpAction[] | undefined {
  return (arg as ArgWithActions).actions;
}

// ---- views a network engineer asks for ------------------------------------------------------

export interface CtAction {
  readonly commit: boolean;
  readonly forceCommit: boolean;
  readonly zone?: string;
  readonly mark?: string;
  readonly label?: string;
  readonly helper?: string;
  /** `nat` alone, `nat(src)`, `nat(dst=10.0.0.2:80)`: kind and the range text when given. */
  readonly nat?: { readonly kind?: 'src' | 'dst'; readonly range?: string; readonly flags: readonly string[] };
}

export function ctAction(a: OdpAction): CtAction | undefined {
  if (a.type !== 'ct') return undefined;
  const value = (n: string) => a.args.find((x) => x.name === n)?.value;
  const natArg = a.args.find((x) => x.name === 'nat');
  let nat: CtAction['nat'];
  if (natArg) {
    let kind: 'src' | 'dst' | undefined;
    let range: string | undefined;
    const flags: string[] = [];
    for (const n of natArg.args ?? []) {
      if (n.name === 'src' || n.name === 'dst') {
        kind = n.name;
        range = n.value;
      } else flags.push(n.name);
    }
    nat = { kind, range, flags };
  }
  return {
    commit: a.args.some((x) => x.name === 'commit'),
    forceCommit: a.args.some((x) => x.name === 'force_commit'),
    zone: value('zone'),
    mark: value('mark'),
    label: value('label'),
    helper: value('helper'),
    nat,
  };
}

/** Visits every action, descending into nested lists (clone, check_pkt_len, sample(actions(…)), …). */
export function eachAction(actions: readonly OdpAction[], visit: (a: OdpAction) => void): void {
  for (const a of actions) {
    visit(a);
    if (a.type === 'clone') eachAction(a.actions, visit);
    else if (a.type === 'check_pkt_len') {
      eachAction(a.gt, visit);
      eachAction(a.le, visit);
    } else if (a.type === 'call') for (const arg of a.args) eachAction(nestedActions(arg) ?? [], visit);
  }
}

/** Every recirculation id the actions lead to (nested lists included), as numbers. */
export function recircTargets(actions: readonly OdpAction[]): number[] {
  const out: number[] = [];
  eachAction(actions, (a) => {
    if (a.type === 'recirc') out.push(a.id.startsWith('0x') ? parseInt(a.id.slice(2), 16) : parseInt(a.id, 10));
  });
  return out;
}

/** Ports the actions output to (nested lists included), in order. */
export function outputPorts(actions: readonly OdpAction[]): string[] {
  const out: string[] = [];
  eachAction(actions, (a) => {
    if (a.type === 'output') out.push(a.port);
  });
  return out;
}
