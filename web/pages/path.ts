// /ui/paths/:id — the packet's path drawn (graph.ts, picture.ts); a stage clicked shows its logical
// flow, its OpenFlow rules and its ovn-detrace text.
import { useEffect, useMemo, useState } from 'preact/hooks';
import * as api from '../api';
import { ctState, short, verdictClass, verdictNotes, verdictText } from '../describe';
import { buildPicture, GNode, PathJson } from '../graph';
import { bidiLine, go, html, link } from '../html';
import { stepBlocks } from '../parse';
import { PictureView } from '../picture';

/** `live, 12 packets, 02:31:39 - 02:31:41` (at most LIFETIME_CHARS with its `dp flow` prefix). */
export function lifetimeText(l: any): string {
  const t = (iso: string | null) => (iso ? iso.slice(11, 19) : '?');
  return `${l.state}, ${l.packets} packets, ${t(l.firstSeen)} - ${t(l.removedAt ?? l.lastSeen)}`;
}

function Detail({ node }: { node: GNode }) {
  const [text, setText] = useState<string | null>(null);
  const [flow, setFlow] = useState<any>(null);
  // Keyed by node (below), so a new selection starts empty; an answer for a node no longer
  // selected (a slow one, clicked past) is dropped rather than shown under the new node.
  useEffect(() => {
    let current = true;
    const put = <T>(set: (v: T) => void) => (v: T) => current && set(v);
    if (node.role === 'stage') api.get<string>(`/traces/${node.pass.id}?format=text`).then(put(setText)).catch((e) => put(setText)(`(${e.message})`));
    if (node.role === 'head' && node.pass.ufid) api.get(`/datapath-flows/${node.pass.ufid}`).then(put(setFlow)).catch(() => put(setFlow)(null));
    return () => {
      current = false;
    };
  }, [node.id]);
  if (node.role === 'head' || node.role === 'verdict') {
    const p = node.pass;
    const life = flow?.lifetimes?.find((l: any) => l.id === p.datapathFlowId);
    return html`<div>
      <h2>Pass ${link(`/ui/traces/${p.id}`, `trace ${p.id}`)}</h2>
      <dl>
        <dt>chassis</dt><dd>${p.chassis}</dd>
        <dt>recirculation id</dt><dd>${p.recircId ?? '0'}</dd>
        <dt>conntrack state</dt><dd>${ctState(p.flow) ?? 'untracked'}</dd>
        <dt>verdict</dt><dd>${bidiLine(verdictText(p.verdict))}</dd>
        <dt>datapath actions</dt><dd><code>${p.datapathActions}</code></dd>
        <dt>datapath flow</dt><dd><code>${p.ufid ?? 'none'}</code>${life ? html` · ${life.state}, first seen ${life.firstSeen}, ${life.removedAt ? `removed ${life.removedAt} (${life.removalReason})` : `last seen ${life.lastSeen}`}, ${life.packets} packets` : null}</dd>
      </dl>
    </div>`;
  }
  if (node.role === 'northbound' && node.northbound) {
    const nb = node.northbound;
    return html`<div><h2>${nb.table} ${short(nb.uuid)}</h2><p>${nb.summary}</p><p>${link(`/ui/northbound/${nb.table}/${nb.uuid}`, `what this ${nb.table} allowed or dropped`)}</p></div>`;
  }
  const lf = node.lflow!;
  const blocks = text && !text.startsWith('(') ? stepBlocks(text) : null;
  const pos = (seq: number) => (node.pass.steps ?? []).findIndex((s) => s.seq === seq);
  return html`<div>
    <h2>${lf.stage} <small>table ${lf.tableId} · ${lf.pipeline}</small></h2>
    <h3>Logical flow</h3>
    <dl>
      <dt>uuid</dt><dd>${link(`/ui/logical-flows/${lf.uuid}`, lf.uuid)}${lf.stale ? ' (stale: no longer in the southbound database)' : ''}</dd>
      <dt>datapaths</dt><dd>${(lf.datapaths ?? []).map((d) => d.name).join(', ')}</dd>
      <dt>priority</dt><dd>${lf.priority}</dd>
      <dt>match</dt><dd><code>${lf.match}</code></dd>
      <dt>actions</dt><dd><code>${lf.actions}</code></dd>
      ${node.northbound ? html`<dt>northbound</dt><dd>${link(`/ui/northbound/${node.northbound.table}/${node.northbound.uuid}`, node.northbound.summary)}</dd>` : null}
    </dl>
    <h3>OpenFlow rules</h3>
    <table class="rules"><thead><tr><th scope="col">table</th><th scope="col">priority</th><th scope="col">cookie</th><th scope="col">match</th><th scope="col">actions</th></tr></thead>
      <tbody>${(node.steps ?? []).map((s) => html`<tr><td>${s.table}</td><td>${s.priority ?? '-'}</td><td>${s.cookie ?? ''}</td><td><code>${s.match}</code></td><td><code>${s.actions.replace(/\n/g, ', ')}</code></td></tr>`)}</tbody>
    </table>
    <h3>ovn-detrace</h3>
    <pre class="detrace" tabindex="0" aria-label="ovn-detrace text of this stage">${text === null ? 'loading…' : blocks ? (node.steps ?? []).map((s) => (blocks[pos(s.seq)] ?? []).join('\n')).join('\n') : text}</pre>
  </div>`;
}

export function PathPage({ id }: { id: string }) {
  const [path, setPath] = useState<PathJson | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sel, setSel] = useState<GNode | null>(null);
  const [checks, setChecks] = useState<any>(null);
  const [busy, setBusy] = useState(false);
  const [fit, setFit] = useState(false);
  const [lifetimes, setLifetimes] = useState(new Map<number, string>());
  useEffect(() => {
    setPath(null);
    setSel(null);
    api.get(`/paths/${id}?include=steps`).then(setPath).catch((e) => setError(e.message));
  }, [id]);
  const pic = useMemo(() => (path ? buildPicture(path) : null), [path]);
  const last = path?.passes[path.passes.length - 1];
  useEffect(() => {
    if (!pic) return;
    // Time to first picture, read by bench/ui: from navigation start to this picture in the DOM, painted.
    requestAnimationFrame(() => document.querySelector('.picture')?.setAttribute('data-drawn-ms', performance.now().toFixed(0)));
    if (last) api.get(`/traces/${last.id}/cross-checks`).then(setChecks).catch(() => setChecks(null));
    // Each pass's datapath flow lifetime, after the picture: the picture does not wait for them.
    for (const p of path!.passes)
      if (p.ufid)
        api
          .get(`/datapath-flows/${p.ufid}`)
          .then((f) => {
            const l = f.lifetimes?.find((x: any) => x.id === p.datapathFlowId);
            if (l) setLifetimes((m) => new Map(m).set(p.id, lifetimeText(l)));
          })
          .catch(() => undefined);
  }, [pic]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!path || !pic) return html`<p>Loading path ${id}…</p>`;
  const crossCheck = async () => {
    setBusy(true);
    try {
      const xc = await api.post(`/traces/${last!.id}/cross-check`);
      go(`/ui/cross-checks/${xc.id}`);
    } catch (e: any) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<section aria-labelledby="path-title">
    <h1 id="path-title">Path ${path.id} <small>${path.passes.length} passes · ${pic.stages} stages</small></h1>
    <p class=${`verdict-line ${verdictClass(path.verdict.kinds)}`}>${bidiLine(verdictText(path.verdict))}</p>
    ${verdictNotes(path.verdict).map((note) => html`<p class="verdict-note">${bidiLine(note)}</p>`)}
    <div class="actions">
      <button type="button" onClick=${crossCheck} disabled=${busy}>${busy ? 'Running ovn-trace…' : 'Cross-check with ovn-trace'}</button>
      <button type="button" aria-pressed=${fit} onClick=${() => setFit(!fit)}>${fit ? 'Actual size' : 'Fit to width'}</button>
      ${checks?.items?.map((c: any) => html` ${link(`/ui/cross-checks/${c.id}`, `cross-check ${c.id}: ${c.result}`)}`)}
    </div>
    <div class="path-view">
      <div class="canvas" tabindex="-1"><${PictureView} pic=${pic} fit=${fit} lifetimes=${lifetimes} selected=${sel?.id ?? null} onSelect=${setSel} /></div>
      <aside class="detail" aria-live="polite" aria-label="details">${sel ? html`<${Detail} key=${sel.id} node=${sel} />` : html`<p>Select a stage (click, or Tab and Enter) to see its logical flow, OpenFlow rules and ovn-detrace text.</p>`}</aside>
    </div>
  </section>`;
}
