// A stored trace as text, in ovn-detrace's layout: the OpenFlow steps as ofproto/trace prints
// them, each followed by the OVN rows behind its cookie.
import type { OwnerJson, TraceJson } from './trace-record';

function ownerLines(o: OwnerJson, pad: string): string[] {
  const stale = o.stale ? ' [stale: deleted from the southbound database]' : '';
  if (o.table === 'Logical_Flow') {
    const out = [`${pad}* Logical datapaths:`];
    for (const d of o.datapaths ?? []) out.push(`${pad}*     "${d.name ?? '?'}" (${d.uuid}) [${o.pipeline}]`);
    out.push(
      `${pad}* Logical flow: table=${o.tableId} (${o.stage ?? '?'}), priority=${o.priority}, match=(${o.match}), actions=(${o.actions})${stale}`,
    );
    return out;
  }
  const label = o.table.replace(/_/g, ' ');
  return [`${pad}* ${label}: ${o.summary ?? o.uuid}${stale}`];
}

export function renderTraceText(t: TraceJson): string {
  const out: string[] = [`Flow: ${t.flow}`, ''];
  let bridge: string | null | undefined;
  for (const s of t.steps ?? []) {
    if (s.bridge !== bridge) {
      bridge = s.bridge;
      const head = `bridge("${bridge ?? '?'}")`;
      out.push(head, '-'.repeat(head.length));
    }
    const pad = ' '.repeat(s.depth * 4);
    const cookie = s.cookie && s.cookie !== '0x00000000' ? `, cookie ${s.cookie.replace(/^0x0+(?=.)/, '0x')}` : '';
    out.push(`${pad}${String(s.table).padStart(2)}. ${s.match ? s.match + ', ' : ''}priority ${s.priority ?? '?'}${cookie}`);
    for (const a of s.actions ? s.actions.split('\n') : []) out.push(`${pad}    ${a}`);
    if (s.owners.length > 1) out.push(`${pad}  * Cookie collision: ${s.owners.length} southbound rows own ${s.cookie}`);
    for (const o of s.owners) out.push(...ownerLines(o, pad + '  '));
    if (s.northbound) out.push(`${pad}   * ${s.northbound.summary}`);
  }
  out.push('', `Final flow: ${t.finalFlow}`, `Megaflow: ${t.megaflow}`, `Datapath actions: ${t.datapathActions}`);
  const v = t.verdict;
  out.push('', `Verdict: ${v.kinds.join(', ') || 'none'}${v.logicalPorts.length ? ` -> ${v.logicalPorts.join(', ')}` : ''}`);
  if (v.northbound) out.push(`  by ${v.northbound.summary}`);
  if (t.consistent !== null) out.push(`Consistent with the installed datapath flow: ${t.consistent ? 'yes' : `no (${t.consistentReason ?? 'differs'})`}`);
  return out.join('\n') + '\n';
}
