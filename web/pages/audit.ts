// /ui/northbound/:table/:uuid and /ui/logical-flows/:uuid — what a row allowed or dropped: the
// datapath flows it took part in, their packets over time as a small chart.
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { short, verdictClass, verdictText } from '../describe';
import { bidiLine, html, link } from '../html';
import { auditSources } from '../parse';

const W = 640;
const H = 120;

/** Packets per time bucket, allowed (output) and dropped, as stacked bars. */
export function Chart({ flows }: { flows: any[] }) {
  if (!flows.length) return null;
  const ts = flows.map((f) => Date.parse(f.firstSeen));
  const t0 = Math.min(...ts);
  const t1 = Math.max(...ts, t0 + 1000);
  const N = 24;
  const bins = Array.from({ length: N }, () => ({ drop: 0, other: 0 }));
  flows.forEach((f, i) => {
    const b = Math.min(N - 1, Math.floor(((ts[i] - t0) / (t1 - t0)) * N));
    const drop = (f.traces ?? []).some((t: any) => (t.pathVerdict ?? t.verdict)?.kinds?.includes('drop'));
    bins[b][drop ? 'drop' : 'other'] += Math.max(1, f.packets ?? 1);
  });
  const max = Math.max(1, ...bins.map((b) => b.drop + b.other));
  const bw = W / N;
  const total = bins.reduce((a, b) => ({ drop: a.drop + b.drop, other: a.other + b.other }), { drop: 0, other: 0 });
  return html`<figure class="chart">
    <svg role="img" aria-label=${`packets over time: ${total.other} allowed, ${total.drop} dropped`} viewBox=${`0 0 ${W} ${H + 16}`} width="100%">
      ${bins.map((b, i) => {
        const hd = (b.drop / max) * H;
        const ho = (b.other / max) * H;
        return html`<g><rect class="bar other" x=${i * bw + 1} y=${H - ho - hd} width=${bw - 2} height=${ho} /><rect class="bar drop" x=${i * bw + 1} y=${H - hd} width=${bw - 2} height=${hd} /></g>`;
      })}
      <text x="0" y=${H + 14}>${new Date(t0).toLocaleString()}</text><text x=${W} y=${H + 14} text-anchor="end">${new Date(t1).toLocaleString()}</text>
    </svg>
    <figcaption><span class="key other">allowed</span> ${total.other} packets · <span class="key drop">dropped</span> ${total.drop} packets</figcaption>
  </figure>`;
}

export function AuditPage({ table, uuid }: { table: string | null; uuid: string }) {
  const [flows, setFlows] = useState<any[] | null>(null);
  const [lflow, setLflow] = useState<any>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const at = auditSources(table, uuid);
    api.get(at.flows).then((p) => setFlows(p.items)).catch((e) => setError(e.message));
    if (at.lflow) api.get(at.lflow).then(setLflow).catch(() => undefined);
  }, [table, uuid]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!flows) return html`<p>Loading…</p>`;
  const cur = lflow?.current ?? lflow?.snapshots?.[lflow.snapshots.length - 1];
  return html`<section aria-labelledby="audit-title">
    <h1 id="audit-title">${table ?? 'Logical flow'} <code>${short(uuid)}</code> <small>${flows.length} datapath flows</small></h1>
    ${cur ? html`<p><b>${cur.stage}</b> (${cur.pipeline} table ${cur.tableId}, priority ${cur.priority}, ${lflow.state}): <code>${cur.match}</code> → <code>${cur.actions}</code></p>` : null}
    <${Chart} flows=${flows} />
    <table class="audit">
      <thead><tr><th scope="col">first seen</th><th scope="col">datapath flow</th><th scope="col">packets</th><th scope="col">what happened</th></tr></thead>
      <tbody>${flows.map(
        (f) => html`<tr class=${verdictClass((f.traces?.[0]?.pathVerdict ?? f.traces?.[0]?.verdict)?.kinds ?? [])}>
          <td>${f.firstSeen}</td><td><code>${short(f.ufid)}</code> ${f.state}${f.removedAt ? ` (${f.removalReason})` : ''}</td><td>${f.packets}</td>
          <td>${(f.traces ?? []).map((t: any) => html`${bidiLine(verdictText(t.pathVerdict ?? t.verdict))} ${t.pathId ? link(`/ui/paths/${t.pathId}`, 'path') : link(`/ui/traces/${t.id}`, 'trace')} `)}</td>
        </tr>`,
      )}</tbody>
    </table>
  </section>`;
}
