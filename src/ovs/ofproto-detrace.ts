import { lineDecimal, lineError, splitLines, TextLine, TRACE_BOUNDS } from './trace-error';
import { normaliseCookie } from './ids';

export { OvsTextParseError } from './trace-error';

/**
 * `ofproto/detrace ufid:<uuid> [pmd=N]` (OVS ≥ 3.4): the OpenFlow rules and groups in the ukey's
 * translation cache, i.e. exactly those that produced the installed datapath flow. Parsed from what
 * real daemons print (test/fixtures/captured-detrace/, scripts/capture-detrace-fixtures).
 *
 * The daemon walks every datapath (udpif) and prints, for each, one of:
 * - `UFID was not found for <dpif>`: no ukey with that UFID *and pmd id* there. The pmd id is part
 *   of a ukey's identity on the userspace datapath: a flow dumped under `flow-dump from pmd on cpu
 *   core: N` needs `pmd=N`; without `pmd=` the main thread's id (NON_PMD_CORE_ID) is assumed there
 *   and none on the kernel datapath.
 * - `Cache was not found for <dpif>`: the ukey exists but has no translation cache yet. A ukey gets
 *   one only when the revalidators re-translate it: after the flow carried packets since the last
 *   round, or after any OpenFlow change on that datapath. A flow that saw one packet may never get one.
 * - its cache entries: rules as ofproto_rule_stats_ds() prints them
 *   (`[cookie=0x…, ][table_id=N, ]duration=…s, n_packets=…, n_bytes=…, n_offload_packets=…,
 *   n_offload_bytes=…, <match>,actions=…`, cookie without leading zeros, table 0 and cookie 0 not
 *   printed), groups as ofputil_group_format() (`group_id=N,type=…,bucket=…`). OVS 3.5 prints them
 *   flat; OVS 4.0 (commit "ofproto-dpif: Print bridge names in the ofproto/detrace") puts the bridge
 *   name on a line of its own, indents the entries by two spaces, and adds `table_id=N, no match`
 *   for a lookup that missed (the internal table-254 drop rule it then hits follows). Entries are
 *   in cache order, not pipeline order: the table-254 rule of a miss sits where the miss happened,
 *   and a rule can appear more than once.
 */

export interface DetraceRule {
  readonly type: 'rule';
  readonly bridge: string | null;
  /** `0x` + 8 hex digits; `0x00000000` when the line has no cookie (cookie 0 is not printed). */
  readonly cookie: string;
  /** 0 when the line has no table_id (table 0 is not printed). */
  readonly table: number;
  /** 32768 (OFP_DEFAULT_PRIORITY) when the match has no `priority=`. */
  readonly priority: number;
  readonly match: string;
  readonly actions: string;
  /** `duration`, `n_packets`, `n_bytes`, … as printed. */
  readonly stats: Readonly<Record<string, string>>;
  readonly line: number;
  readonly raw: string;
}

export interface DetraceGroup {
  readonly type: 'group';
  readonly bridge: string | null;
  readonly groupId: number;
  /** The rest after `group_id=N,` (type, bucket, actions), as printed. */
  readonly description: string;
  readonly line: number;
  readonly raw: string;
}

export interface DetraceNoMatch {
  readonly type: 'no_match';
  readonly bridge: string | null;
  readonly table: number;
  readonly line: number;
  readonly raw: string;
}

export type DetraceEntry = DetraceRule | DetraceGroup | DetraceNoMatch;

/** A datapath the daemon had no answer for (`UFID was not found for X`, `Cache was not found for X`). */
export interface DetraceMiss {
  readonly reason: 'ufid_not_found' | 'cache_not_found';
  readonly datapath: string;
  readonly line: number;
}

export type OfprotoDetraceResult =
  | {
      readonly kind: 'entries';
      readonly layout: 'flat' | 'by_bridge';
      readonly entries: readonly DetraceEntry[];
      /** Other datapaths that did not know this UFID (several udpifs: kernel and userspace). */
      readonly misses: readonly DetraceMiss[];
    }
  /**
   * No datapath answered with entries. `cache_not_found` when one of them has the ukey (it may
   * answer after a later revalidation), `ufid_not_found` when none has it (wrong pmd=, or the flow
   * is gone), `empty` for a reply with nothing in it. `message` is the daemon's text, one line.
   */
  | { readonly kind: 'no_answer'; readonly reason: 'cache_not_found' | 'ufid_not_found' | 'empty'; readonly misses: readonly DetraceMiss[]; readonly message: string };

const WHAT = 'ofproto/detrace';
/** What ofproto_rule_stats_ds() prints between the cookie/table and the match. */
const STAT_FIELDS = new Set(['duration', 'n_packets', 'n_bytes', 'n_offload_packets', 'n_offload_bytes']);
const OFP_DEFAULT_PRIORITY = 32768;

const MISS = /^(UFID|Cache) was not found for (\S+)$/;

export function parseOfprotoDetrace(text: string): OfprotoDetraceResult {
  const lines = splitLines(text).filter((l) => l.text.trim() !== '');
  const entries: DetraceEntry[] = [];
  const misses: DetraceMiss[] = [];
  let bridge: string | null = null;
  let layout: 'flat' | 'by_bridge' = 'flat';
  for (const at of lines) {
    const indented = /^\s/.test(at.text);
    const body = at.text.trim();
    const miss = indented ? null : MISS.exec(body);
    if (miss) {
      misses.push({ reason: miss[1] === 'UFID' ? 'ufid_not_found' : 'cache_not_found', datapath: miss[2], line: at.line });
      bridge = null; // the next datapath's entries start with their own bridge line
      continue;
    }
    const bridgeName = indented ? null : bridgeHeader(body);
    if (bridgeName !== null) {
      bridge = bridgeName;
      layout = 'by_bridge';
      continue;
    }
    if (layout === 'by_bridge' && (!indented || bridge === null)) {
      throw lineError(WHAT, text, at, 'entry outside any bridge in the bridge-headed layout');
    }
    entries.push(parseEntry(text, at, body, bridge));
  }
  if (entries.length) return { kind: 'entries', layout, entries, misses };
  const message = misses.length ? lines.filter((l) => MISS.test(l.text.trim())).map((l) => l.text.trim()).join('; ') : 'empty reply';
  const reason = misses.some((m) => m.reason === 'cache_not_found') ? 'cache_not_found' : misses.length ? 'ufid_not_found' : 'empty';
  return { kind: 'no_answer', reason, misses, message };
}

/** OVS 4.0's bridge line: the bridge's name alone (ofproto->name), unindented. */
function bridgeHeader(body: string): string | null {
  return /^[^\s=,()]+$/.test(body) ? body : null;
}

function parseEntry(whole: string, at: TextLine, body: string, bridge: string | null): DetraceEntry {
  const column = at.text.indexOf(body);
  const noMatch = /^table_id=(\d+), no match$/.exec(body);
  if (noMatch) return { type: 'no_match', bridge, table: lineDecimal(WHAT, whole, at, 'table_id', noMatch[1], TRACE_BOUNDS.table, column), line: at.line, raw: body };
  const group = /^group_id=(\d+)(?:,(.*))?$/.exec(body);
  if (group) return { type: 'group', bridge, groupId: lineDecimal(WHAT, whole, at, 'group_id', group[1], TRACE_BOUNDS.group, column), description: group[2] ?? '', line: at.line, raw: body };

  let rest = body;
  let cookie = '0x00000000';
  let table = 0;
  const stats: Record<string, string> = {};
  // The leading `name=value, ` fields of ofproto_rule_stats_ds(); the match follows without a space.
  for (;;) {
    const m = /^([a-z_]+)=([^,\s]*), /.exec(rest);
    if (!m) break;
    if (m[1] === 'cookie') {
      const c = normaliseCookie(m[2]);
      if (c === null) throw lineError(WHAT, whole, at, `bad cookie "${m[2]}"`, column);
      cookie = c;
    } else if (m[1] === 'table_id') {
      // `table_id=%"PRIu8"`: Number() alone read '' as table 0, '-1' as -1, '0x10' as 16.
      table = lineDecimal(WHAT, whole, at, 'table_id', m[2], TRACE_BOUNDS.table, column);
    } else if (STAT_FIELDS.has(m[1])) {
      stats[m[1]] = m[2];
    } else {
      break;
    }
    rest = rest.slice(m[0].length);
  }
  if (!('duration' in stats) && !('n_packets' in stats)) {
    throw lineError(WHAT, whole, at, 'expected a rule (duration=…, n_packets=…), a group or "table_id=N, no match"', column);
  }
  // `<match>,actions=…`; an empty match still has its comma (`, ,actions=…` after the stats).
  const bare = rest.startsWith('actions=');
  const actionsAt = bare ? 0 : rest.indexOf(',actions=');
  if (actionsAt < 0) throw lineError(WHAT, whole, at, 'rule without ",actions="', column + body.length - rest.length);
  let match = rest.slice(0, actionsAt).replace(/^[\s,]+/, '');
  const actions = rest.slice(actionsAt + (bare ? 'actions='.length : ',actions='.length));
  let priority = OFP_DEFAULT_PRIORITY;
  const p = /^priority=(\d+)(?:,|$)/.exec(match);
  if (p) {
    priority = lineDecimal(WHAT, whole, at, 'priority', p[1], TRACE_BOUNDS.priority, column + body.length - rest.length);
    match = match.slice(p[0].length);
  }
  return { type: 'rule', bridge, cookie, table, priority, match, actions, stats, line: at.line, raw: body };
}

/** The cookies of a detrace reply's rules, in order (what the OVN annotator needs). */
export function detraceCookies(result: OfprotoDetraceResult): string[] {
  if (result.kind !== 'entries') return [];
  return result.entries.flatMap((e) => (e.type === 'rule' ? [e.cookie] : []));
}
