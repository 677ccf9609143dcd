// /ui/ports/:name — a logical port's packets, newest first, live from GET /traces/stream.
import { useEffect, useMemo, useState } from 'preact/hooks';
import * as api from '../api';
import { flowSummary, originText, time, verdictClass, verdictText } from '../describe';
import { bidiLine, go, html, link } from '../html';

const VERDICTS = ['', 'output', 'drop', 'controller', 'tunnel', 'recirculate'];
const PROTOS = ['', 'tcp', 'udp', 'icmp', 'arp', 'ipv6', 'other'];
const SINCE: Array<[string, number]> = [['any time', 0], ['last 5 minutes', 300], ['last hour', 3600], ['last day', 86400]];

export function PortSearch({ initial = '' }: { initial?: string }) {
  const [q, setQ] = useState(initial);
  return html`<form class="search" role="search" onSubmit=${(e: Event) => (e.preventDefault(), q.trim() && go(`/ui/ports/${encodeURIComponent(q.trim())}`))}>
    <label for="port-search">Logical port</label>
    <input id="port-search" name="port" value=${q} placeholder="name or UUID, e.g. lsp1" onInput=${(e: any) => setQ(e.target.value)} autocomplete="off" />
    <button type="submit">Show packets</button>
  </form>`;
}

export function PortPage({ name }: { name: string }) {
  const [items, setItems] = useState<any[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState('connecting');
  const [verdict, setVerdict] = useState('');
  const [proto, setProto] = useState('');
  const [since, setSince] = useState(0);
  const [passes, setPasses] = useState(false);
  const [reload, setReload] = useState(0);
  // The filters the rows in hand were loaded for: the effect that reloads runs after the render
  // that shows the new filter, and until its answer the old rows (another verdict's) are not shown.
  const wanted = JSON.stringify([name, verdict, since, reload]);
  const [loadedFor, setLoadedFor] = useState('');
  const loading = loadedFor !== wanted;

  useEffect(() => {
    let stop = () => {};
    let cancelled = false;
    setItems([]);
    setError(null);
    const q = new URLSearchParams({ logical_port: name, limit: '200' });
    if (verdict) q.set('verdict', verdict);
    if (since) q.set('since', new Date(api.serverNow() - since * 1000).toISOString());
    api
      .get(`/traces?${q}`)
      .then(async (page) => {
        if (cancelled) return;
        setItems(page.items);
        setLoadedFor(wanted);
        const sq = new URLSearchParams({ logical_port: name });
        if (verdict) sq.set('verdict', verdict);
        // The stream has no time filter: it starts after the newest trace listed, or with none listed
        // after 0, every trace of the port. With a time filter none listed says nothing of older
        // ones, and the port's last 500 came in as new rows; it starts after the newest of any time.
        const after = page.items[0]?.id ?? (since ? (await api.get(`/traces?${sq}&limit=1`)).items[0]?.id : undefined) ?? 0;
        if (cancelled) return;
        stop = api.stream(`?${sq}`, after, {
          onTrace: (t) => setItems((old) => (old.some((o) => o.id === t.id) ? old : [t, ...old].slice(0, 1000))),
          onGap: (m) => setError(`${m}; reload to see them`),
          onState: (s, d) => setLive(s === 'open' ? 'live' : s === 'retrying' ? 'reconnecting…' : `stopped: ${d}`),
        });
      })
      .catch((e) => !cancelled && setError(e.message));
    return () => {
      cancelled = true;
      stop();
    };
  }, [name, verdict, since, reload]);
  useEffect(() => api.onTokenWanted(() => setReload((r) => r + 1)) as any, []);

  const shown = useMemo(
    () => (loading ? [] : items).filter((t) => (passes || !(t.verdict.kinds.length === 1 && t.verdict.kinds[0] === 'recirculate')) && (!proto || flowSummary(t.flow).proto === proto || (proto === 'other' && !PROTOS.includes(flowSummary(t.flow).proto)))),
    [items, proto, passes, loading],
  );
  return html`<section aria-labelledby="port-title">
    <h1 id="port-title">Packets of <code>${name}</code></h1>
    <${PortSearch} initial=${name} />
    <div class="filters" role="group" aria-label="filters">
      <label>Verdict <select value=${verdict} onChange=${(e: any) => setVerdict(e.target.value)}>${VERDICTS.map((v) => html`<option value=${v}>${v || 'any'}</option>`)}</select></label>
      <label>Protocol <select value=${proto} onChange=${(e: any) => setProto(e.target.value)}>${PROTOS.map((v) => html`<option value=${v}>${v || 'any'}</option>`)}</select></label>
      <label>Time <select value=${since} onChange=${(e: any) => setSince(Number(e.target.value))}>${SINCE.map(([t, s]) => html`<option value=${s}>${t}</option>`)}</select></label>
      <label class="check"><input type="checkbox" checked=${passes} onChange=${(e: any) => setPasses(e.target.checked)} /> intermediate passes</label>
      <span class="live" role="status" aria-live="polite">${live}</span>
    </div>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    <ol class="packets" aria-busy=${loading ? 'true' : 'false'} aria-label=${`packets of ${name}, newest first`}>
      ${shown.map((t) => {
        const f = flowSummary(t.flow);
        return html`<li class=${`packet ${verdictClass(t.verdict.kinds)}`} data-trace=${t.id}>
          <time datetime=${t.createdAt}>${time(t.createdAt)}</time>
          <span class="flow">${f.text}</span>
          <span class="verdict">${bidiLine(verdictText(t.verdict))}</span>
          ${originText(t) ? html`<span class="via">${originText(t)}</span>` : null}
          ${t.arrivedFrom ? html`<span class="via">on ${t.chassis}, sent by ${link(`/ui/traces/${t.arrivedFrom.traceId}`, `trace ${t.arrivedFrom.traceId}`)} on ${t.arrivedFrom.chassis}</span>` : null}
          <span class="links">${t.pathId ? link(`/ui/paths/${t.pathId}`, 'path') : null} ${link(`/ui/traces/${t.id}`, `trace ${t.id}`)}</span>
        </li>`;
      })}
    </ol>
    ${!error && !shown.length ? html`<p class="empty">${loading ? 'Loading…' : 'No packets yet: this list updates by itself.'}</p>` : null}
  </section>`;
}
