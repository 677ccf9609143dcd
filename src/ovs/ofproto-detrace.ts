import { lineError, normaliseCookie, splitLines, TextLine } from './trace-error';

export { OvsTextParseError } from './trace-error';

/**
 * `ofproto/detrace ufid:<uuid> [pmd=N]` (OVS ≥ 3.4): the OpenFlow rules and groups in the ukey's
 * translation cache, i.e. exactly those that produced the installed datapath flow.
 *
 * Two layouts exist. 3.4 prints one flat line per cache entry, rules as ofproto_rule_stats_ds()
 * formats them (`[cookie=0x…, ][table_id=N, ]duration=…s, n_packets=…, n_bytes=…, <match>,actions=…`)
 * and groups as ofputil_group_format() (`group_id=N,type=…,bucket=…`). Later versions put each
 * bridge name on a line of its own with its entries indented below, and add `table_id=N, no match`
 * for lookups that missed. A daemon here (3.1) has no detrace: the samples this is tested on were
 * written from that documented format, see test/fixtures/documented/detrace/README.md.
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

export type OfprotoDetraceResult =
  | { readonly kind: 'entries'; readonly layout: 'flat' | 'by_bridge'; readonly entries: readonly DetraceEntry[] }
  /** The ukey has no translation cache yet (right after install): ask again a little later. */
  | { readonly kind: 'cache_not_found'; readonly retryable: true; readonly message: string };

const WHAT = 'ofproto/detrace';
const STAT_FIELDS = new Set(['duration', 'n_packets', 'n_bytes', 'n_offload_packets', 'n_offload_bytes', 'idle_age', 'hard_age', 'importance']);
const OFP_DEFAULT_PRIORITY = 32768;

export function parseOfprotoDetrace(text: string): OfprotoDetraceResult {
  const lines = splitLines(text).filter((l) => l.text.trim() !== '');
  const first = lines[0];
  if (first && /^Cache was not found\b/.test(first.text.trim())) {
    return { kind: 'cache_not_found', retryable: true, message: first.text.trim() };
  }
  const entries: DetraceEntry[] = [];
  let bridge: string | null = null;
  let layout: 'flat' | 'by_bridge' = 'flat';
  for (const at of lines) {
    const indented = /^\s/.test(at.text);
    const body = at.text.trim();
    const bridgeName = indented ? null : bridgeHeader(body);
    if (bridgeName !== null) {
      bridge = bridgeName;
      layout = 'by_bridge';
      continue;
    }
    if (layout === 'by_bridge' && !indented) {
      throw lineError(WHAT, text, at, 'entry outside any bridge in the bridge-headed layout');
    }
    entries.push(parseEntry(text, at, body, bridge));
  }
  return { kind: 'entries', layout, entries };
}

/** A bridge line has no `=`: `br-int`, `br-int:`, `bridge("br-int")`, `bridge br-int`. */
function bridgeHeader(body: string): string | null {
  if (body.includes('=') || body.includes(',')) return null;
  const m = /^(?:bridge\("([^"]+)"\)|(?:bridge )?"?([A-Za-z0-9_.:@-]+?)"?):?$/.exec(body);
  return m ? (m[1] ?? m[2]) : null;
}

function parseEntry(whole: string, at: TextLine, body: string, bridge: string | null): DetraceEntry {
  const column = at.text.indexOf(body);
  const noMatch = /^table_id=(\d+), no match$/.exec(body);
  if (noMatch) return { type: 'no_match', bridge, table: Number(noMatch[1]), line: at.line, raw: body };
  const group = /^group_id=(\d+)(?:,(.*))?$/.exec(body);
  if (group) return { type: 'group', bridge, groupId: Number(group[1]), description: group[2] ?? '', line: at.line, raw: body };

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
      table = Number(m[2]);
      if (!Number.isInteger(table) || table > 255) throw lineError(WHAT, whole, at, `bad table_id "${m[2]}"`, column);
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
  const actionsAt = rest.startsWith('actions=') ? 0 : rest.indexOf(',actions=');
  if (actionsAt < 0) throw lineError(WHAT, whole, at, 'rule without ",actions="', column + body.length - rest.length);
  let match = rest.slice(0, actionsAt).replace(/^[\s,]+/, '');
  const actions = rest.slice(actionsAt + (actionsAt === 0 ? 'actions='.length : ',actions='.length));
  let priority = OFP_DEFAULT_PRIORITY;
  const p = /^priority=(\d+)(?:,|$)/.exec(match);
  if (p) {
    priority = Number(p[1]);
    match = match.slice(p[0].length);
  }
  return { type: 'rule', bridge, cookie, table, priority, match, actions, stats, line: at.line, raw: body };
}

/** The cookies of a detrace reply's rules, in order (what the OVN annotator needs). */
export function detraceCookies(result: OfprotoDetraceResult): string[] {
  if (result.kind !== 'entries') return [];
  return result.entries.flatMap((e) => (e.type === 'rule' ? [e.cookie] : []));
}
