// /ui/cross-checks/:id — the live stages and ovn-trace's side by side, per pipeline, the first
// divergence marked, and each tie (two equal-priority flows, each tool running another) noted.
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { EXCUSED, outputPorts, short } from '../describe';
import { html, link } from '../html';
import { alignedSegments, Entry, liveSegments, Segment, simulatedSegments } from '../parse';

export function CrossCheckPage({ id }: { id: string }) {
  const [xc, setXc] = useState<any>(null);
  const [live, setLive] = useState<Segment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api
      .get(`/cross-checks/${id}`)
      .then(async (x) => {
        setXc(x);
        const passes = x.pathId ? (await api.get(`/paths/${x.pathId}?include=steps`)).passes : [await api.get(`/traces/${x.traceId}`)];
        setLive(liveSegments(passes));
      })
      .catch((e) => setError(e.message));
  }, [id]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!xc || !live) return html`<p>Loading cross-check ${id}…</p>`;
  const sim = alignedSegments(simulatedSegments(xc.ovnTrace?.output ?? ''), xc.pipelines ?? []);
  const d = xc.divergence;
  const n = Math.max(live.length, sim.length);
  return html`<section aria-labelledby="xc-title">
    <h1 id="xc-title">Cross-check ${xc.id} <small class=${xc.result}>${xc.result}</small></h1>
    <p>Trace ${link(`/ui/traces/${xc.traceId}`, xc.traceId)}${xc.pathId ? html` · ${link(`/ui/paths/${xc.pathId}`, `path ${xc.pathId}`)}` : null} · live: ${xc.verdicts.live.kinds.join(', ')} ${outputPorts(xc.verdicts.live)} · ovn-trace: ${xc.verdicts.simulated.dropped ? 'drop' : `output ${xc.verdicts.simulated.outputs.join(', ')}`}</p>
    ${d ? html`<p class="divergence-text" role="note"><strong>First divergence:</strong> ${d.explanation}</p>` : null}
    ${(xc.ties ?? []).map((t: { explanation: string }) => html`<p class="tie-text" role="note"><strong>Tie, not a difference:</strong> ${t.explanation}</p>`)}
    <details><summary>ovn-trace command</summary><pre>${xc.command?.shell}</pre></details>
    ${Array.from({ length: n }, (_, i) => {
      const l = live[i];
      const s = sim[i];
      const tables = [...new Set([...(l?.entries ?? []), ...(s?.entries ?? [])].map((e) => e.tableId))].sort((a, b) => a - b);
      return html`<table class="xc">
        <caption>${(l ?? s)!.pipeline} · ${(s ?? l)!.datapath}</caption>
        <thead><tr><th scope="col">table</th><th scope="col">live (the datapath)</th><th scope="col">ovn-trace</th></tr></thead>
        <tbody>${tables.map((t) => {
          const le = l?.entries.find((e) => e.tableId === t);
          const se = s?.entries.find((e) => e.tableId === t);
          const diverged = d && d.pipelineIndex === i && d.tableId === t;
          const tie = (xc.ties ?? []).some((x: { pipelineIndex: number; tableId: number }) => x.pipelineIndex === i && x.tableId === t);
          const omitted = (xc.pipelines?.[i]?.excused?.omittedByOvnTrace ?? []).includes(t);
          const cell = (e?: Entry, sim = false) =>
            e
              ? html`<b>${e.stage}</b> ${e.uuid.length > 8 ? link(`/ui/logical-flows/${e.uuid}`, short(e.uuid)) : html`<code>${e.uuid}</code>`}${e.stale ? ' (stale)' : ''}<br /><code>${e.text}</code>`
              : html`<span class="none">${sim && omitted ? `${EXCUSED.omittedByOvnTrace} (not a difference)` : '—'}</span>`;
          return html`<tr class=${diverged ? 'diverged' : tie ? 'tie' : ''} aria-label=${diverged ? 'first divergence' : tie ? 'tie' : undefined}><th scope="row">${t}${diverged ? html` <span class="mark">first divergence</span>` : null}${tie ? html` <span class="mark">tie</span>` : null}</th><td>${cell(le)}</td><td>${cell(se, true)}</td></tr>`;
        })}</tbody>
      </table>`;
    })}
  </section>`;
}
