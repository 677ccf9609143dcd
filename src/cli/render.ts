// What the ovn-livetrace client prints: one line per packet, a path drawn with its passes and
// verdict, an audit. Colours only when the output is a terminal (and NO_COLOR is unset).
import { ctState, hopText, localnetHopText, originText, short, verdictNotes, verdictText as words } from '../../web/describe';
import { BEYOND_C0, escapeUnsafe } from '../../web/safe-text';

export interface Paint {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  blue(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export function paint(on: boolean): Paint {
  const c = (code: number) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { red: c(31), green: c(32), yellow: c(33), blue: c(34), dim: c(2), bold: c(1) };
}

/** What JSON.stringify leaves as it is of the characters a terminal acts on (it escapes C0 controls itself). */
const UNSAFE_IN_JSON = new RegExp(`[${BEYOND_C0}]`, 'g');

/**
 * Text from the API as a terminal may print it: each character it would act on instead of showing
 * (web/safe-text.ts, the list the page uses too: ESC sequences, C1 CSI, CR, bidi overrides) as a
 * visible escape (`\x1b`, `\u202e`). `lines` keeps newlines and tabs (a multi-line text).
 */
export function termSafe(s: string, lines = false): string {
  return escapeUnsafe(s, lines);
}

/** A JSON value from the API with every string in it made safe to print (termSafe). */
export function termSafeDeep<T>(v: T): T {
  if (typeof v === 'string') return termSafe(v) as T;
  if (Array.isArray(v)) return v.map(termSafeDeep) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, termSafeDeep(x)])) as T;
  return v;
}

/**
 * One JSON line for a terminal: JSON.stringify escapes C0 controls but not DEL, C1 controls or the
 * bidi controls; those as \u escapes too, so the line stays the same JSON.
 */
export function jsonLine(v: unknown): string {
  return JSON.stringify(v).replace(UNSAFE_IN_JSON, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const asIs = (s: string) => s;

const COLOUR: Record<string, keyof Paint> = { incomplete: 'yellow', output: 'green', drop: 'red', controller: 'yellow', tunnel: 'blue', recirculate: 'dim' };

export function flowText(flow: string): string {
  const f: Record<string, string> = {};
  let proto = '';
  for (const part of flow.split(',')) {
    const [k, v] = part.split('=');
    if (v === undefined) {
      if (/^(tcp|udp|icmp|arp|sctp|ipv6|tcp6|udp6|icmp6)$/.test(k)) proto = k;
    } else f[k] = v;
  }
  const p = (x?: string) => (x ? `:${x}` : '');
  return `${proto || 'eth'} ${f.nw_src ?? f.ipv6_src ?? f.arp_spa ?? f.dl_src ?? '?'}${p(f.tp_src)} -> ${f.nw_dst ?? f.ipv6_dst ?? f.arp_tpa ?? f.dl_dst ?? '?'}${p(f.tp_dst)}`;
}

/** A verdict in the page's words (web/describe.ts: one wording), each part in its colour. */
export function verdictText(v: any, c: Paint): string {
  // Names as they are: the caller made the whole API value safe (termSafeDeep) before.
  return words(v, (kind, text) => c[COLOUR[kind] ?? 'dim'](text), asIs);
}

/**
 * A page (newest first) oldest first, as a terminal prints it, with each far pass (arrivedFrom)
 * still right after the pass that sent it, where the API put it.
 */
export function oldestFirst<T extends { id: number; arrivedFrom?: { traceId: number } }>(items: T[]): T[] {
  const groups: T[][] = [];
  for (const t of items) {
    // With ?chassis= the sender is on another chassis, not in the page: the far pass stands alone,
    // where its sender would be.
    const last = groups[groups.length - 1];
    if (t.arrivedFrom && last?.some((g) => (g.arrivedFrom?.traceId ?? g.id) === t.arrivedFrom!.traceId)) last.push(t);
    else groups.push([t]);
  }
  return groups.reverse().flat();
}

export function traceLine(trace: any, c: Paint): string {
  const t = termSafeDeep(trace);
  const origin = originText(t);
  return `${c.dim(t.createdAt.slice(11, 23))} ${String(t.id).padStart(6)} ${flowText(t.flow).padEnd(44)} ${verdictText(t.verdict, c)}${t.pathId ? c.dim(`  path ${t.pathId}`) : ''}${
    t.arrivedFrom ? c.dim(`  on ${t.chassis}, sent by trace ${t.arrivedFrom.traceId} on ${t.arrivedFrom.chassis}`) : ''
  }${origin ? c.yellow(`  ${origin}`) : ''}`;
}

/** A path as text: each pass a box, its datapaths and stages inside, recirculations between. */
export function drawPath(json: any, c: Paint): string {
  const path = termSafeDeep(json);
  const notes = verdictNotes(path.verdict, asIs).map(c.yellow);
  const out: string[] = [`path ${path.id} on ${path.chassis}: ${verdictText(path.verdict, c)}`, ...notes, ''];
  path.passes.forEach((p: any, i: number) => {
    const ct = ctState(p.flow);
    out.push(c.bold(`┌─ pass ${i + 1} (trace ${p.id}) · ${p.chassis} · recirc ${p.recircId ?? '0'}${ct ? ` · ct ${ct}` : ''}`));
    let dp = '';
    let last = '';
    for (const s of p.steps ?? []) {
      const lf = s.owners.find((o: any) => o.table === 'Logical_Flow');
      if (!lf || lf.uuid === last) continue;
      last = lf.uuid;
      const here = `${(lf.datapaths ?? []).map((d: any) => d.name).join(',')} ${lf.pipeline}`;
      if (here !== dp) {
        dp = here;
        out.push(`│ ${c.blue(`[${here}]`)}`);
      }
      const dropped = p.verdict.kinds.includes('drop') && p.verdict.logicalFlow === lf.uuid;
      const line = `│   ${String(lf.tableId).padStart(2)} ${(lf.stage ?? '?').padEnd(24)} ${short(lf.uuid)}${s.northbound ? `  ${s.northbound.summary}` : ''}`;
      out.push(dropped ? c.red(`${line}  <- drop`) : line);
    }
    out.push(`└─ ${verdictText(p.verdict, c)}   ${c.dim(`datapath actions: ${p.datapathActions}`)}`);
    if (i === path.passes.length - 1) return;
    const next = path.passes[i + 1];
    // A tunnel's far end (GET /paths/:id's hops) is not a recirculation: two segments of one chassis
    // may meet too (hv2 forwarding back to hv3 after hv1's flood reached hv3).
    // A localnet hop (across the physical network) is drawn the same way, in its own words.
    const tunnel = (path.verdict.tunnels ?? []).find((t: any) => t.toTraceId === next.id);
    const localnet = tunnel ? undefined : (path.verdict.localnetHops ?? []).find((h: any) => h.toTraceId === next.id);
    const hop = tunnel ?? localnet;
    const text = tunnel ? hopText(tunnel) : localnet ? localnetHopText(localnet) : '';
    if (hop) out.push(`   │ ${c.blue(`${text}${hop.fromTraceId !== p.id ? ` (sent by trace ${hop.fromTraceId})` : ''}`)}`, '   ▼');
    else out.push(`   │ ${c.blue(`recirc ${next.recircId}`)}`, '   ▼');
  });
  return out.join('\n');
}

export function drawAudit(title: string, items: any[], c: Paint): string {
  const what = termSafe(title);
  const flows = termSafeDeep(items);
  let dropped = 0;
  let allowed = 0;
  const out = [c.bold(`${what}: ${flows.length} datapath flows`)];
  for (const f of flows) {
    const v = f.traces?.[0]?.pathVerdict ?? f.traces?.[0]?.verdict;
    if (v?.kinds?.includes('drop')) dropped += f.packets ?? 0;
    else allowed += f.packets ?? 0;
    out.push(`${c.dim(f.firstSeen)} ${short(f.ufid)} ${String(f.packets).padStart(6)} pkts  ${v ? verdictText(v, c) : 'not traced'}${f.traces?.[0]?.pathId ? c.dim(`  path ${f.traces[0].pathId}`) : ''}`);
  }
  out.push(`packets allowed ${c.green(String(allowed))}, dropped ${c.red(String(dropped))}`);
  return out.join('\n');
}
