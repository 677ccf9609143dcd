// A stored trace as text (`GET /traces/:id?format=text`), in ovn-detrace's layout: the OpenFlow
// steps as ofproto/trace prints them, each followed by the OVN rows behind its cookie in ovn-detrace's
// words. The one text renderer: test/integration/correlation/served-text-vs-detrace.spec.ts holds
// every OVN line to the real ovn-detrace's over the same trace text. Differences on purpose:
// - the steps keep ofproto/trace's indentation by depth, and a step's OVN lines carry the same
//   indentation in front of ovn-detrace's own (`  * ` rows, `   * ` hints); ovn-detrace strips it;
// - rows ovn-detrace has no handler for (FDB, Static_MAC_Binding, Datapath_Binding owners; Logical_Switch
//   and Logical_Router hints) are printed the same way, and an owner deleted from the southbound
//   database since (stale) is printed as it was with a `(stale: …)` line: ovn-detrace reads the
//   database as it is now and prints nothing for it;
// - a match or actions are printed as the database holds them: ovn-detrace prints them through
//   Python's `.strip('"')`, which also eats the closing quote of a match ending in a quoted name
//   (`outport == "sw0-lr0"` → `outport == "sw0-lr0`);
// - a step on a rule ovn-controller installs itself with a cookie no row will ever own (EVPN) gets
//   one line naming it (`  * EVPN neighbour 172.16.1.50 → f0:00:0f:16:10:50 (learned, …)`), where
//   ovn-detrace prints nothing;
// - the verdict and the consistency with the installed datapath flow close the text (after
//   ofproto/trace's own tail: the slow path's reasons, a failed translation).
import type { StepHint } from '../correlation/types';
import { endingLines } from '../ovs/trace-ending';
import { datapathText } from '../ovn/summaries';
import { isCookieZero } from '../ovs/ids';
import { bridgeLocalText, ovsPortsText, type OwnerJson, type StepJson, type TraceJson } from './trace-record';

/** ovn-detrace's Printer: print_p for the rows owning a cookie, print_h for hints and duplicates. */
const P = '  * ';
const H = '   * ';

/** Tables whose rows ovn-detrace opens with the row's `Logical datapath:`. */
const WITH_DATAPATH = new Set(['Port_Binding', 'MAC_Binding', 'Multicast_Group', 'Static_MAC_Binding', 'FDB']);

function ownerLines(o: OwnerJson, hints: readonly StepHint[], out: string[]): void {
  if (o.table === 'Logical_Flow') {
    out.push(P + 'Logical datapaths:');
    for (const d of o.datapaths ?? []) out.push(`${P}    ${datapathText(d)} [${o.pipeline ?? 'None'}]`);
    out.push(`${P}Logical flow: table=${o.tableId} (${o.stage ?? 'None'}), priority=${o.priority}, match=(${o.match ?? ''}), actions=(${o.actions ?? ''})`);
    if (o.stale) out.push(`${H}(stale: logical flow ${o.uuid} no longer in the southbound database)`);
    let prev: string | null = null;
    for (const h of hints) {
      if (h.table === prev) out.push(H + '[Duplicate uuid hint]');
      prev = h.table;
      out.push(H + h.summary);
    }
    return;
  }
  if (WITH_DATAPATH.has(o.table) && o.datapath !== undefined) out.push(`${P}Logical datapath: ${datapathText(o.datapath)}`);
  out.push(P + (o.summary || `${o.table} ${o.uuid}`));
  if (o.stale) out.push(`${H}(stale: ${o.table} ${o.uuid} no longer in the southbound database)`);
}

/** The OVN lines ovn-detrace would print after this step (for the rows the trace recorded). */
export function stepOvnLines(s: Pick<StepJson, 'owners' | 'northbound'>): string[] {
  const out: string[] = [];
  let prev: string | null = null;
  let hinted = false;
  for (const o of s.owners) {
    // ovn-detrace prints the rows of each table in turn, a marker before every repeat.
    if (o.table === prev) out.push(H + '[Duplicate uuid cookie]');
    prev = o.table;
    // The stored step keeps the hint of its first logical flow (the one that carries it).
    const hints = !hinted && o.table === 'Logical_Flow' && s.northbound ? [s.northbound] : [];
    if (hints.length) hinted = true;
    ownerLines(o, hints, out);
  }
  return out;
}

/** ` 8. metadata=0x1, priority 50, cookie 0xd938370d` as ofproto/trace prints the step. */
function stepLine(s: StepJson): string {
  const table = String(s.table).padStart(2);
  if (s.priority === null) return `${table}. No match.`;
  // Stored cookies are padded (ids.ts); ofproto/trace prints them without leading zeros.
  const cookie = s.cookie && !isCookieZero(s.cookie) ? `, cookie ${s.cookie.replace(/^0x0+(?=.)/, '0x')}` : '';
  return `${table}. ${s.match ? s.match + ', ' : ''}priority ${s.priority}${cookie}`;
}

export function renderTraceText(t: TraceJson): string {
  const out: string[] = [`Flow: ${t.flow}`, ''];
  let bridge: string | null | undefined;
  for (const s of t.steps ?? []) {
    if (s.bridge !== bridge) {
      if (bridge !== undefined) out.push('');
      bridge = s.bridge;
      const head = `bridge("${bridge ?? '?'}")`;
      out.push(head, '-'.repeat(head.length));
    }
    const pad = ' '.repeat(s.depth * 4);
    out.push(pad + stepLine(s));
    for (const a of s.actions ? s.actions.split('\n') : []) out.push(`${pad}    ${a}`);
    for (const l of stepOvnLines(s)) out.push(pad + l);
    if (s.controllerFlow) out.push(pad + P + s.controllerFlow.name);
  }
  out.push('', `Final flow: ${t.finalFlow}`, `Megaflow: ${t.megaflow}`, `Datapath actions: ${t.datapathActions}`);
  out.push(...endingLines(t));
  const v = t.verdict;
  const ports = [...v.logicalPorts, ...(v.unmappedOutputs?.length ? [ovsPortsText(v.unmappedOutputs)] : []), ...(v.bridgeLocal?.length ? [bridgeLocalText(v.bridgeLocal)] : [])];
  out.push('', `Verdict: ${v.kinds.join(', ') || 'none'}${ports.length ? ` -> ${ports.join(', ')}` : ''}`);
  if (v.northbound) out.push(`  by ${v.northbound.summary}`);
  if (t.consistent !== null) out.push(`Consistent with the installed datapath flow: ${t.consistent ? 'yes' : `no (${t.consistentReason ?? 'differs'})`}`);
  return out.join('\n') + '\n';
}
