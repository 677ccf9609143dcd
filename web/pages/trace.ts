// /ui/traces/:id — one pass as ovn-detrace text, each cookie linking to its logical flow's audit.
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { verdictText } from '../describe';
import { bidiLine, html, link } from '../html';

export function linkCookies(text: string, steps: any[]) {
  // The cookie's logical flow by its 8 hex digits (cookie = first 32 bits of the flow's UUID).
  const byCookie = new Map<string, string>();
  for (const s of steps) for (const o of s.owners) if (o.table === 'Logical_Flow' && s.cookie) byCookie.set(s.cookie.replace(/^0x0*/, ''), o.uuid);
  // And each northbound row's summary (the ACL, NAT… lines) to that row's audit.
  const byHint = new Map<string, { table: string; uuid: string }>();
  for (const s of steps) if (s.northbound) byHint.set(s.northbound.summary, s.northbound);
  const escape = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const hints = [...byHint.keys()].sort((a, b) => b.length - a.length).map(escape);
  const re = new RegExp(`cookie 0x([0-9a-f]+)${hints.length ? `|(${hints.join('|')})` : ''}`, 'g');
  const out: unknown[] = [];
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    out.push(text.slice(last, m.index));
    if (m[1] !== undefined) {
      const uuid = byCookie.get(m[1].replace(/^0+/, ''));
      out.push(uuid ? html`cookie ${link(`/ui/logical-flows/${uuid}`, `0x${m[1]}`)}` : m[0]);
    } else {
      const nb = byHint.get(m[0])!;
      out.push(link(`/ui/northbound/${nb.table}/${nb.uuid}`, m[0]));
    }
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

export function TracePage({ id }: { id: string }) {
  const [t, setT] = useState<any>(null);
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    Promise.all([api.get(`/traces/${id}`), api.get<string>(`/traces/${id}?format=text`)])
      .then(([tj, tx]) => (setT(tj), setText(tx)))
      .catch((e) => setError(e.message));
  }, [id]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!t) return html`<p>Loading trace ${id}…</p>`;
  return html`<section aria-labelledby="trace-title">
    <h1 id="trace-title">Trace ${t.id} <small>${t.chassis} · ${t.bridge} · ${t.method}</small></h1>
    <p class="summary">${bidiLine(verdictText(t.verdict))} ${t.pathId ? link(`/ui/paths/${t.pathId}`, 'the whole path') : null}</p>
    <pre class="detrace" tabindex="0" aria-label="ovn-detrace text">${linkCookies(text, t.steps ?? [])}</pre>
  </section>`;
}
