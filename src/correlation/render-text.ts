// ovn-detrace's text for an annotated trace: the trace lines (stripped of indentation, as
// ovn-detrace prints them) with, after each OpenFlow step, what owns its cookie:
//   * Logical datapaths: / *     "sw0" (uuid) [ingress] / * Logical flow: table=N (stage), …
//    * ACL: from-lport, priority=1001, match=(…), allow-related
//   * Logical datapath: "sw0" (uuid) / * Port Binding: logical_port "lsp1", tunnel_key 1, …
// Rows ovn-detrace does not know (FDB, Static_MAC_Binding, Datapath_Binding, Logical_Switch/Router
// hints) and stale owners are printed the same way, so the text is a superset of its.
import { datapathText } from '../ovn/summaries';
import type { AnnotatedStep, AnnotatedTrace, StepHint, StepOwner } from './types';

export interface RenderOptions {
  /** Keep ofproto/trace's indentation by depth (ovn-detrace strips it). */
  readonly indent?: boolean;
  /** Add a last `Verdict:` line and the logical ports. */
  readonly verdict?: boolean;
}

const P = '  * ';
const H = '   * ';

function stepLine(s: AnnotatedStep): string {
  if (s.outcome !== 'match') return `${s.table}. No match.`;
  const parts: string[] = [];
  if (s.match) parts.push(s.match);
  parts.push(`priority ${s.priority ?? 0}`);
  if (s.cookie) parts.push(`cookie 0x${s.cookie.slice(2).replace(/^0+(?=.)/, '')}`);
  return `${s.table}. ${parts.join(', ')}`;
}

function hintLines(hints: readonly StepHint[], out: string[]): void {
  let prev: string | null = null;
  for (const h of hints) {
    if (h.table === prev) out.push(H + '[Duplicate uuid hint]');
    prev = h.table;
    out.push(H + h.summary);
  }
}

/** The `  * ` / `   * ` lines for one step's owners. */
export function ownerLines(step: Pick<AnnotatedStep, 'owners'>, hintsOf: (o: StepOwner) => readonly StepHint[]): string[] {
  const out: string[] = [];
  let prev: string | null = null;
  for (const o of step.owners) {
    if (o.table === prev) out.push(H + '[Duplicate uuid cookie]');
    prev = o.table;
    const lf = o.logicalFlow;
    if (lf) {
      out.push(P + 'Logical datapaths:');
      for (const dp of lf.datapaths) out.push(`${P}    ${datapathText(dp)} [${lf.pipeline}]`);
      out.push(`${P}Logical flow: table=${lf.tableId} (${lf.stage ?? 'None'}), priority=${lf.priority}, match=(${lf.match.replace(/^"+|"+$/g, '')}), actions=(${lf.actions.replace(/^"+|"+$/g, '')})`);
      if (o.stale) out.push(H + `(stale: logical flow ${o.uuid} no longer in the southbound database)`);
      hintLines(hintsOf(o), out);
      continue;
    }
    if (o.table !== 'Chassis' && o.table !== 'Load_Balancer' && o.table !== 'Datapath_Binding') out.push(`${P}Logical datapath: ${datapathText(o.datapath)}`);
    out.push(P + (o.summary ?? `${o.table} ${o.uuid}`));
    if (o.stale) out.push(H + `(stale: ${o.table} ${o.uuid} no longer in the southbound database)`);
  }
  return out;
}

/**
 * Hints per owner: a step carries its first hint (and `hints` when several), all from the
 * cookie's logical flows in order; with one logical flow they all belong to it.
 */
function hintsFor(step: AnnotatedStep): (o: StepOwner) => readonly StepHint[] {
  const all = step.hints ?? (step.hint ? [step.hint] : []);
  const flows = step.owners.filter((o) => o.logicalFlow?.stageHint);
  if (flows.length <= 1) return (o) => (o.logicalFlow?.stageHint ? all : []);
  return (o) => {
    const prefix = o.logicalFlow?.stageHint;
    return prefix ? all.filter((h) => h.uuid.startsWith(prefix)) : [];
  };
}

export function renderTrace(t: AnnotatedTrace, opts: RenderOptions = {}): string {
  const out: string[] = [`Flow: ${t.flow}`, ''];
  let bridge: string | null = null;
  for (const s of t.steps) {
    if (s.bridge && s.bridge !== bridge) {
      if (bridge !== null) out.push('');
      bridge = s.bridge;
      const head = `bridge("${bridge}")`;
      out.push(head, '-'.repeat(head.length));
    }
    const pad = opts.indent ? ' '.repeat(s.depth * 4) : '';
    out.push(pad + stepLine(s));
    if (s.actions) for (const a of s.actions.split('\n')) out.push(pad + (opts.indent ? '    ' : '') + a);
    out.push(...ownerLines(s, hintsFor(s)));
  }
  out.push('', `Final flow: ${t.finalFlow}`, `Megaflow: ${t.megaflow}`, `Datapath actions: ${t.datapathActions}`);
  if (t.translationFailed) out.push(`Translation failed (${t.translationFailed}), packet is dropped.`);
  if (opts.verdict) {
    const v = t.verdict;
    const extra = v.kind === 'drop' && v.dropBy ? ` by step ${v.dropBy.stepSeq} (logical flow ${v.dropBy.logicalFlowUuid ?? 'none'}${v.dropBy.hint ? `, ${v.dropBy.hint.summary}` : ''})` : '';
    out.push(`Verdict: ${v.kind}${extra}${v.outputs.length ? ` to ${v.outputs.join(', ')}` : ''}${v.recircIds.length ? ` recirc ${v.recircIds.join(', ')}` : ''}`);
    for (const p of t.ports) out.push(`  ${p.role} ${p.logicalPort}${p.datapath ? ` on "${p.datapath}"` : ''}${p.chassis ? ` (chassis ${p.chassis})` : ''}`);
  }
  return out.join('\n') + '\n';
}
