import { lineDecimal, lineError, TextLine, TRACE_BOUNDS } from './trace-error';
import { normaliseCookie } from './ids';

/**
 * The node tree of one ofproto/trace pass, rebuilt from its indentation.
 *
 * ofproto-dpif-trace.c prints a node of list level L at indent (L + more) * 4 and its children at
 * level L + 2 * more, where `more` is 1 unless the node is the last of its list and not terminal
 * (bridge, table, thaw). That keeps tail resubmits flat: a table reached by the last action of the
 * previous one is printed as its sibling although it is its child. Levels are therefore always even,
 * and an indent of k * 4 means: k odd, a terminal node or a non-last bridge/table/thaw at level
 * k - 1; k even, the last bridge/table/thaw of the list at level k. Details (` -> `), warnings
 * (` >> `) and errors (` >>>> … <<<<`) add one space, and tables below 10 one more (`%2d.`).
 */

export type TraceNodeKind = 'bridge' | 'table' | 'thaw' | 'bucket' | 'action' | 'detail' | 'warning' | 'error';

export interface TraceNode {
  readonly kind: TraceNodeKind;
  /** The node's text without indentation or the ` -> ` / ` >> ` / ` >>>> … <<<<` markers. */
  readonly text: string;
  /** 1-based line in the whole input. */
  readonly line: number;
  /** Visual nesting: 0 for the main chain of tables, +1 inside a non-tail resubmit, clone, bucket… */
  readonly depth: number;
  /** Index in `nodes` of the node this one belongs to (a table for its actions), null at the top. */
  readonly parent: number | null;
}

export type TableOutcome = 'match' | 'no_match' | 'no_match_packet_in' | 'ip_fragment_drop';

/** One OpenFlow table lookup. */
export interface TraceStep {
  /** Index in `nodes`. */
  readonly node: number;
  readonly line: number;
  /**
   * The bridge printed above the step. Caveat from xlate_actions(): a thawed pass prints the bridge
   * of its in_port but continues in the frozen state's bridge without printing it (a packet from
   * br-ex's ext0 resumed in br-int's tables shows `bridge("br-ex")`): trust cookies, not this.
   */
  readonly bridge: string | null;
  readonly table: number;
  readonly outcome: TableOutcome;
  /** The rule's match as printed (`ip,reg0=0x1/0x1,metadata=0x1`), '' for a catch-all rule. */
  readonly match: string;
  readonly priority: number | null;
  /** `0x` + 8 hex digits; `0x00000000` when the rule has cookie 0 (printed without one); null on no match. */
  readonly cookie: string | null;
  readonly depth: number;
  /** The step (index in `steps`) whose action led here (resubmit/goto), null for the first lookup. */
  readonly parentStep: number | null;
  /** The step's own actions, details, warnings and errors, in order. */
  readonly items: readonly TraceItem[];
}

export interface TraceItem {
  readonly kind: 'action' | 'detail' | 'warning' | 'error' | 'bucket';
  readonly text: string;
  readonly line: number;
  readonly depth: number;
}

export interface TraceTree {
  readonly nodes: readonly TraceNode[];
  readonly steps: readonly TraceStep[];
  /** Bridges in order of first appearance (patch ports lead into others). */
  readonly bridges: readonly string[];
  /** `Resuming from table N` of a thawed (recirculated) pass, else null. */
  readonly resumeTable: number | null;
  /** `thaw` children other than the resume point: `Restoring actions: …`, `Restoring action set: …`. */
  readonly restored: readonly string[];
  /** Items under no table: the restored actions a thawed pass runs before any lookup (group:1, …). */
  readonly unattached: readonly TraceItem[];
}

interface Open {
  readonly node: number;
  readonly childLevel: number;
}

const WHAT = 'ofproto/trace';

/** Builds the tree of the lines between `Flow:` and `Final flow:`. Blank lines are skipped. */
export function buildTraceTree(whole: string, lines: readonly TextLine[]): TraceTree {
  const nodes: TraceNode[] = [];
  const stack: Open[] = [];
  for (let i = 0; i < lines.length; i++) {
    const at = lines[i];
    if (at.text.trim() === '') continue;
    const spaces = at.text.length - at.text.trimStart().length;
    const k = Math.floor(spaces / 4);
    const body = at.text.slice(k * 4);
    const { kind, text } = classify(body);
    const nonTerminal = kind === 'bridge' || kind === 'table' || kind === 'thaw';
    // Even k is only possible for the last non-terminal of a list; a terminal there is malformed.
    if (k % 2 === 0 && !nonTerminal) {
      throw lineError(WHAT, whole, at, `"${kind}" line at a table's indentation`, spaces);
    }
    const level = k % 2 === 0 ? k : k - 1;
    while (stack.length > 0 && stack[stack.length - 1].childLevel > level) stack.pop();
    const top = stack.length > 0 ? stack[stack.length - 1] : null;
    const parentLevel = top ? top.childLevel : 0;
    if (parentLevel !== level) {
      throw lineError(WHAT, whole, at, `indentation ${spaces} deeper than its parent's`, spaces);
    }
    // Terminal nodes can have children too (a group's `bucket 0` holds the bucket's actions).
    const childLevel = k % 2 === 0 ? k : level + 2;
    const depth = (nonTerminal ? childLevel : level) / 2;
    nodes.push({ kind, text, line: at.line, depth, parent: top ? top.node : null });
    stack.push({ node: nodes.length - 1, childLevel });
    if (kind === 'bridge') {
      const dashes = lines[i + 1];
      // ofproto-dpif-trace.c underlines with strlen() dashes: bytes, so a bridge named in UTF-8
      // (`bridge("br-ïnt")`, 17 bytes, 16 characters) has more dashes than characters.
      if (!dashes || dashes.text.trim() !== '-'.repeat(Buffer.byteLength(text, 'utf8'))) {
        throw lineError(WHAT, whole, dashes ?? at, 'bridge line without its underline of dashes');
      }
      i += 1;
    }
  }
  return summarise(whole, lines, nodes);
}

function classify(body: string): { kind: TraceNodeKind; text: string } {
  if (body.startsWith(' >>>> ')) {
    const text = body.slice(6);
    return { kind: 'error', text: text.endsWith(' <<<<') ? text.slice(0, -5) : text };
  }
  if (body.startsWith(' >> ')) return { kind: 'warning', text: body.slice(4) };
  if (body.startsWith(' -> ')) return { kind: 'detail', text: body.slice(4) };
  const text = body.trim();
  if (/^\d+\. /.test(text)) return { kind: 'table', text };
  if (text.startsWith('bridge("') && text.endsWith('")')) return { kind: 'bridge', text };
  if (/^bucket \d+$/.test(text)) return { kind: 'bucket', text };
  if (text === 'thaw' || /^Resuming from table \d+$/.test(text) || /^Restoring action(?:s| set): /.test(text)) {
    return { kind: 'thaw', text };
  }
  return { kind: 'action', text };
}

function summarise(whole: string, lines: readonly TextLine[], nodes: readonly TraceNode[]): TraceTree {
  const steps: TraceStep[] = [];
  const stepOfNode = new Map<number, number>();
  const bridges: string[] = [];
  const bridgeOfNode = new Map<number, string>();
  let resumeTable: number | null = null;
  const restored: string[] = [];
  const unattached: TraceItem[] = [];
  // The lines are consecutive, so a node's line is found by offset.
  const firstLine = lines.length > 0 ? lines[0].line : 0;

  nodes.forEach((node, index) => {
    const inherited = node.parent === null ? null : (bridgeOfNode.get(node.parent) ?? null);
    if (node.kind === 'bridge') {
      const name = node.text.slice('bridge("'.length, -2);
      if (!bridges.includes(name)) bridges.push(name);
      bridgeOfNode.set(index, name);
      return;
    }
    if (inherited !== null) bridgeOfNode.set(index, inherited);
    if (node.kind === 'thaw') {
      const m = /^Resuming from table (\d+)$/.exec(node.text);
      if (m) {
        const at = lines[node.line - firstLine];
        resumeTable = lineDecimal(WHAT, whole, at, '"Resuming from table"', m[1], TRACE_BOUNDS.table, at.text.indexOf(m[1]));
      }
      else if (node.text !== 'thaw') restored.push(node.text);
      return;
    }
    if (node.kind === 'table') {
      const at = lines[node.line - firstLine];
      const fields = parseTableLine(whole, at, node.text);
      steps.push({
        table: fields.table,
        outcome: fields.outcome,
        match: fields.match,
        priority: fields.priority,
        cookie: fields.cookie,
        node: index,
        line: node.line,
        bridge: inherited,
        depth: node.depth,
        parentStep: enclosingStep(nodes, node.parent, stepOfNode),
        items: [],
      });
      stepOfNode.set(index, steps.length - 1);
      return;
    }
    const owner = enclosingStep(nodes, node.parent, stepOfNode);
    const item: TraceItem = { kind: node.kind, text: node.text, line: node.line, depth: node.depth };
    if (owner !== null) (steps[owner].items as TraceItem[]).push(item);
    else unattached.push(item);
  });
  return { nodes, steps, bridges, resumeTable, restored, unattached };
}

function enclosingStep(nodes: readonly TraceNode[], from: number | null, stepOfNode: Map<number, number>): number | null {
  for (let at = from; at !== null; at = nodes[at].parent) {
    const step = stepOfNode.get(at);
    if (step !== undefined) return step;
  }
  return null;
}

type TableFields = Pick<TraceStep, 'table' | 'outcome' | 'match' | 'priority' | 'cookie'>;

/** ` 8. metadata=0x1, priority 50, cookie 0xd938370d`, `37. priority 0`, `73. No match.` */
export function parseTableLine(whole: string, at: TextLine, text: string): TableFields {
  const dot = text.indexOf('. ');
  const rest = text.slice(dot + 2);
  const column = at.text.indexOf(text);
  const table = lineDecimal(WHAT, whole, at, 'table number', text.slice(0, dot), TRACE_BOUNDS.table, column);
  const none = { table, match: '', priority: null, cookie: null };
  if (rest === 'No match.') return { ...none, outcome: 'no_match' };
  if (rest.startsWith('No match, and a "packet-in" is called for')) return { ...none, outcome: 'no_match_packet_in' };
  if (rest.startsWith('Packets are IP fragments')) return { ...none, outcome: 'ip_fragment_drop' };

  let head = rest;
  let cookie = '0x00000000';
  const cookieAt = head.lastIndexOf(', cookie ');
  if (cookieAt >= 0) {
    const normalised = normaliseCookie(head.slice(cookieAt + ', cookie '.length));
    if (normalised === null) throw lineError(WHAT, whole, at, 'bad cookie', column + dot + 2 + cookieAt);
    cookie = normalised;
    head = head.slice(0, cookieAt);
  }
  const priorityAt = head.startsWith('priority ') ? 0 : head.lastIndexOf(', priority ');
  if (priorityAt < 0) throw lineError(WHAT, whole, at, 'table line without "priority"', column + dot + 2);
  const priorityText = head.slice(priorityAt === 0 ? 'priority '.length : priorityAt + ', priority '.length);
  const priority = lineDecimal(WHAT, whole, at, 'priority', priorityText, TRACE_BOUNDS.priority, column + dot + 2 + priorityAt);
  return { table, outcome: 'match', match: priorityAt === 0 ? '' : head.slice(0, priorityAt), priority, cookie };
}
