import { LineError, OvsParseError } from './parse-error';
import { OdpKey, checkKeyFields, formatKey, parseKeyFields } from './odp-key';
import { OdpAction, checkActionList, formatActions, parseActionList, parseSharedActionList } from './odp-actions';
import { OdpMemo } from './odp-memo';

/**
 * `ovs-appctl dpctl/dump-flows [-m]` output, for the userspace and the kernel datapath:
 *
 *   flow-dump from pmd on cpu core: 1
 *   ufid:94e1412f-…, skb_priority(0/0),…,icmp(type=8/0,code=0/0), packets:0, bytes:0, used:never,
 *     dp:ovs, actions:ct(commit,zone=12,mark=0/0x1,nat(src)),vif2, dp-extra-info:miniflow_bits(5,1)
 *
 * (one line per flow). A bad line is reported with its number and does not cost the others.
 *
 * Every flow's key (fields, attributes, masks) and actions are built while parsing, one pass that
 * validates and builds; a field, attribute, action or action list whose exact text was already
 * parsed in this dump is the same frozen object (see odp-memo.ts), which is what makes a 200,000
 * flow dump cheap: OVN's flows differ in a few addresses. `build: 'on-read'` instead checks each
 * line whole (a bad key or action is still a line error right away) and builds a flow's objects
 * the first time they are read.
 */

/** The `flow-dump from …:` header a flow was listed under (userspace datapath only). */
export interface DumpThread {
  /** Header text after `flow-dump from `, without the colon: `pmd on cpu core: 1`, `the main thread`. */
  readonly text: string;
  /** The pmd's cpu core when it is a pmd thread. */
  readonly pmdCore?: number;
}

export interface DumpedFlow {
  /** 1-based line number in the dump. */
  readonly line: number;
  readonly thread?: DumpThread;
  /** Lower-case UUID; present with `-m` (or when the datapath was asked for UFIDs). */
  readonly ufid?: string;
  readonly key: OdpKey;
  readonly packets: number;
  readonly bytes: number;
  /** As printed: `never` or `0.123s`. */
  readonly used: string;
  /** Seconds since last use; null for `never`. */
  readonly usedSeconds: number | null;
  /** TCP flags seen, as printed (`S`, `SF.`, …). */
  readonly flags?: string;
  /** `yes`, `no`, `partial` (kernel datapath with offload). */
  readonly offloaded?: string;
  /** `ovs` or `tc`. */
  readonly dp?: string;
  readonly actions: readonly OdpAction[];
  /** The key (masks included) and the actions exactly as dumped, without building objects. */
  readonly keyText?: string;
  readonly actionsText?: string;
  /** Userspace datapath internals (`miniflow_bits(5,1)`), kept as text. */
  readonly dpExtraInfo?: string;
  /** Any other `name:value` field, in order: nothing printed is lost. */
  readonly extra: readonly { readonly name: string; readonly value: string }[];
}

export interface FlowDump {
  readonly items: DumpedFlow[];
  readonly errors: LineError[];
}

const WHAT = 'dump-flows line';
/** Shared by the (nearly all) lines without unknown fields; never mutated. */
const NO_EXTRA: { name: string; value: string }[] = [];
const HEADER = 'flow-dump from ';
const PMD = 'pmd on cpu core: ';

export interface ParseDumpOptions {
  /**
   * `all` (default): keys and actions built now, shared through the dump's memo. `on-read`: every
   * line checked now, a flow's key and actions built (through the same memo) when first read: for
   * a poller that diffs 200,000 flows a cycle and builds only the new ones.
   */
  readonly build?: 'all' | 'on-read';
  /** Texts each memo table keeps before starting over (OdpMemo's default when absent); 0: no sharing. */
  readonly memoEntries?: number;
}

/** How parseDumpLine builds: now through a dump's memo, now alone, or on first read. */
export type FlowBuild = OdpMemo | 'now' | 'on-read';

export function parseDumpFlows(text: string, options: ParseDumpOptions = {}): FlowDump {
  const memo = options.memoEntries === 0 ? undefined : new OdpMemo(options.memoEntries);
  const lazy = options.build === 'on-read';
  const items: DumpedFlow[] = [];
  const errors: LineError[] = [];
  let thread: DumpThread | undefined;
  let lineNo = 0;
  let pos = 0;
  while (pos <= text.length) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = text.length;
    lineNo++;
    let end = eol;
    if (end > pos && text.charCodeAt(end - 1) === 13) end--; // \r\n
    if (end > pos) {
      if (text.startsWith(HEADER, pos)) thread = parseHeader(text.slice(pos, end));
      else if (!blank(text, pos, end)) {
        // Parsed in place in the whole text (no slice per line, flat for the memo's compares);
        // a bad line is parsed again on its own for an error whose position is in the line.
        try {
          items.push(parseFlowAt(text, pos, end, lineNo, thread, memo, lazy));
        } catch (e) {
          if (!(e instanceof OvsParseError)) throw e;
          const line = text.slice(pos, end);
          errors.push({ line: lineNo, text: line, error: lineError(line, lineNo, thread) ?? e });
        }
      }
    }
    pos = eol + 1;
  }
  return { items, errors };
}

/** The error of a line parsed on its own (the same error, its position counted from the line's start). */
function lineError(line: string, lineNo: number, thread: DumpThread | undefined): OvsParseError | undefined {
  try {
    parseFlowAt(line, 0, line.length, lineNo, thread, undefined, false);
  } catch (e) {
    if (e instanceof OvsParseError) return e;
    throw e;
  }
  return undefined;
}

/** Whether text[start, end) is only whitespace (String.prototype.trim's). */
function blank(text: string, start: number, end: number): boolean {
  const c = text.charCodeAt(start);
  if (c > 32 && c < 127) return false; // the usual case: a flow starts right away
  return text.slice(start, end).trim() === '';
}

function parseHeader(line: string): DumpThread {
  let body = line.slice(HEADER.length);
  if (body.endsWith(':')) body = body.slice(0, -1);
  if (body.startsWith(PMD)) {
    const core = Number(body.slice(PMD.length));
    if (Number.isInteger(core)) return { text: body, pmdCore: core };
  }
  return { text: body };
}

/** Parses one flow line (no header). Throws OvsParseError with the column on bad input. */
export function parseDumpLine(line: string, lineNo = 1, thread?: DumpThread, build: FlowBuild = 'now'): DumpedFlow {
  const memo = typeof build === 'object' ? build : undefined;
  return parseFlowAt(line, 0, line.length, lineNo, thread, memo, build === 'on-read');
}

/**
 * The flow line s[start, end). Characters are read in `s`; searches run in the line alone (a
 * slice, no copy), so a line missing what is searched for costs its own length, not the dump's.
 */
function parseFlowAt(
  s: string, start: number, end: number, lineNo: number, thread: DumpThread | undefined, memo: OdpMemo | undefined, lazy: boolean,
): DumpedFlow {
  const line = start === 0 && end === s.length ? s : s.slice(start, end);
  const find = (what: string, from: number): number => {
    const k = line.indexOf(what, from - start);
    return k < 0 ? -1 : k + start;
  };
  let i = start;
  while (i < end && s.charCodeAt(i) === 32) i++;
  let ufid: string | undefined;
  if (i + 5 <= end && s.startsWith('ufid:', i)) {
    const comma = find(', ', i);
    if (comma < 0) throw new OvsParseError(WHAT, s, i, "expected ', ' after the ufid");
    if (comma - i - 5 !== 36 || !isUuid(s, i + 5)) throw new OvsParseError(WHAT, s, i + 5, 'expected a UUID after ufid:');
    ufid = s.slice(i + 5, comma);
    i = comma + 2;
  }
  const keyEnd = find(', packets:', i);
  if (keyEnd < 0) throw new OvsParseError(WHAT, s, i, "expected ', packets:' after the key");
  const keyStart = i;
  let key: OdpKey | undefined;
  if (lazy) checkKeyFields(s, keyStart, keyEnd);
  else key = { fields: parseKeyFields(s, keyStart, keyEnd, memo) };

  // dpctl prints `, actions:` (dpif_flow_stats_format, then format_dpif_flow): without its ', ' the
  // last statistic would run into it (`dp:ovs,x` read as dp "ovs,x").
  const actionsAt = find('actions:', keyEnd);
  if (actionsAt < 0) throw new OvsParseError(WHAT, s, keyEnd, "expected 'actions:'");
  if (s.charCodeAt(actionsAt - 2) !== 44 || s.charCodeAt(actionsAt - 1) !== 32) {
    throw new OvsParseError(WHAT, s, actionsAt, "expected ', ' before 'actions:'");
  }
  const last = line.lastIndexOf(', dp-extra-info:');
  const extraAt = last < 0 ? -1 : last + start;
  const actionsEnd = extraAt > actionsAt ? extraAt : end;
  let actions: readonly OdpAction[] | undefined;
  if (lazy) checkActionList(s, actionsAt + 8, actionsEnd);
  else if (memo !== undefined) actions = parseSharedActionList(s, actionsAt + 8, actionsEnd, memo);
  else actions = parseActionList(s, actionsAt + 8, actionsEnd);

  let packets = -1;
  let bytes = -1;
  let used: string | undefined;
  let flags: string | undefined;
  let offloaded: string | undefined;
  let dp: string | undefined;
  let extra: { name: string; value: string }[] = NO_EXTRA;
  // Statistics: `, name:value` pairs between the key and `actions:`.
  let p = keyEnd + 2;
  while (p < actionsAt) {
    const colon = find(':', p);
    let stop = find(', ', p);
    if (stop < 0 || stop > actionsAt) stop = actionsAt;
    if (colon < 0 || colon > stop) throw new OvsParseError(WHAT, s, p, "expected 'name:value'");
    // Names compared in place and values shared through the memo: no strings per line but the counters'.
    const n = colon - p;
    const v = colon + 1;
    if (n === 7 && s.startsWith('packets', p)) packets = counter(s, v, stop);
    else if (n === 5 && s.startsWith('bytes', p)) bytes = counter(s, v, stop);
    else if (n === 4 && s.startsWith('used', p)) used = cut(s, v, stop, memo);
    else if (n === 5 && s.startsWith('flags', p)) flags = cut(s, v, stop, memo);
    else if (n === 9 && s.startsWith('offloaded', p)) offloaded = cut(s, v, stop, memo);
    else if (n === 2 && s.startsWith('dp', p)) dp = cut(s, v, stop, memo);
    else {
      if (extra === NO_EXTRA) extra = [];
      extra.push({ name: s.slice(p, colon), value: s.slice(v, stop) });
    }
    p = stop + 2;
  }
  if (packets < 0 || bytes < 0 || used === undefined) {
    throw new OvsParseError(WHAT, s, keyEnd + 2, 'expected packets:, bytes: and used:');
  }
  return new DumpLineFlow(
    s, lineNo, thread, ufid, keyStart, keyEnd, actionsAt + 8, actionsEnd, packets, bytes, used,
    usedSeconds(s, keyEnd, used), flags, offloaded, dp,
    extraAt > actionsAt ? cut(s, extraAt + 16, end, memo) : undefined, extra, key, actions, lazy ? memo : undefined,
  );
}

/**
 * A parsed dump line, kept as offsets into the text it came from (the whole dump, or the line).
 * Its key and actions were built while parsing, or (`on-read`) the line was
 * checked and they are built from it on first read, then kept. One class either way, so code
 * reading flows sees one object shape.
 */
class DumpLineFlow implements DumpedFlow {
  constructor(
    private readonly text: string,
    readonly line: number,
    readonly thread: DumpThread | undefined,
    readonly ufid: string | undefined,
    private readonly keyStart: number,
    private readonly keyEnd: number,
    private readonly actionsStart: number,
    private readonly actionsEnd: number,
    readonly packets: number,
    readonly bytes: number,
    readonly used: string,
    readonly usedSeconds: number | null,
    readonly flags: string | undefined,
    readonly offloaded: string | undefined,
    readonly dp: string | undefined,
    readonly dpExtraInfo: string | undefined,
    readonly extra: readonly { readonly name: string; readonly value: string }[],
    private builtKey: OdpKey | undefined,
    private builtActions: readonly OdpAction[] | undefined,
    /** The dump's memo, for building on read (kept only by flows built on read). */
    private readonly memo: OdpMemo | undefined,
  ) {}

  get key(): OdpKey {
    return (this.builtKey ??= { fields: parseKeyFields(this.text, this.keyStart, this.keyEnd, this.memo) });
  }

  get actions(): readonly OdpAction[] {
    this.builtActions ??= this.memo
      ? parseSharedActionList(this.text, this.actionsStart, this.actionsEnd, this.memo)
      : parseActionList(this.text, this.actionsStart, this.actionsEnd);
    return this.builtActions;
  }

  /** The key text as dumped (masks included). */
  get keyText(): string {
    return this.text.slice(this.keyStart, this.keyEnd);
  }

  get actionsText(): string {
    return this.text.slice(this.actionsStart, this.actionsEnd);
  }
}

/**
 * A `%"PRIu64"` counter: decimal digits, no leading zero. Number() alone read ' ', '0x10', '1e3', '0.' and '-0'
 * as counters (0, 16, 1000, 0, 0): a mangled line passed with made-up statistics.
 */
function counter(line: string, at: number, end: number): number {
  let n = 0;
  let i = at;
  for (; i < end; i++) {
    const c = line.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  if (i === at || i !== end || (line.charCodeAt(at) === 48 && end - at > 1)) {
    throw new OvsParseError(WHAT, line, i === end ? at : i, 'expected a counter (decimal digits)');
  }
  // Past 15 digits the sum above may round: read the digits again exactly, and refuse what a number cannot hold.
  if (end - at > 15) {
    const big = BigInt(line.slice(at, end));
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new OvsParseError(WHAT, line, at, 'counter past 2^53 cannot be held exactly');
    n = Number(big);
  }
  return n;
}

/** line[a, b): one shared string per distinct text when parsing through a memo. */
function cut(line: string, a: number, b: number, memo: OdpMemo | undefined): string {
  return memo !== undefined ? memo.string(line, a, b) : line.slice(a, b);
}

/** `never` or `%.3fs` of (now - used) (negative when a pmd's clock ran ahead): nothing else (Number took ' 1s', '0x10s', '1e3s'). */
function usedSeconds(line: string, at: number, used: string): number | null {
  if (used === 'never') return null;
  if (!USED.test(used)) throw new OvsParseError(WHAT, line, at, "expected used:never or used:N.NNNs");
  return Number(used.slice(0, -1));
}

const USED = /^-?\d+(?:\.\d+)?s$/;

/** Whether the 36 characters at `at` are a UUID. */
function isUuid(s: string, at: number): boolean {
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(at + i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}

/** The flow back as dpctl prints it (same field order as dpctl.c). */
export function formatDumpLine(f: DumpedFlow): string {
  let out = f.ufid !== undefined ? `ufid:${f.ufid}, ` : '';
  out += `${formatKey(f.key)}, packets:${f.packets}, bytes:${f.bytes}, used:${f.used}`;
  if (f.flags !== undefined) out += `, flags:${f.flags}`;
  for (const e of f.extra) out += `, ${e.name}:${e.value}`;
  if (f.offloaded !== undefined) out += `, offloaded:${f.offloaded}`;
  if (f.dp !== undefined) out += `, dp:${f.dp}`;
  out += `, actions:${formatActions(f.actions)}`;
  if (f.dpExtraInfo !== undefined) out += `, dp-extra-info:${f.dpExtraInfo}`;
  return out;
}
