// The /ui page: a small router over the public API (api.ts), one component per address.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import * as api from './api';
import { html, link } from './html';
import { AuditPage } from './pages/audit';
import { CrossCheckPage } from './pages/crosscheck';
import { PathPage } from './pages/path';
import { PortPage, PortSearch } from './pages/ports';
import { TracePage } from './pages/trace';
import { routeParams } from './parse';

function route(path: string) {
  const m = (re: RegExp) => routeParams(re, path);
  let p: string[] | undefined;
  if ((p = m(/^\/ui\/ports\/([^/]+)\/?$/))) return html`<${PortPage} key=${p[0]} name=${p[0]} />`;
  if ((p = m(/^\/ui\/paths\/(\d+)\/?$/))) return html`<${PathPage} key=${p[0]} id=${p[0]} />`;
  if ((p = m(/^\/ui\/traces\/(\d+)\/?$/))) return html`<${TracePage} key=${p[0]} id=${p[0]} />`;
  if ((p = m(/^\/ui\/cross-checks\/(\d+)\/?$/))) return html`<${CrossCheckPage} key=${p[0]} id=${p[0]} />`;
  if ((p = m(/^\/ui\/northbound\/([^/]+)\/([^/]+)\/?$/))) return html`<${AuditPage} key=${p[1]} table=${p[0]} uuid=${p[1]} />`;
  if ((p = m(/^\/ui\/logical-flows\/([^/]+)\/?$/))) return html`<${AuditPage} key=${p[0]} table=${null} uuid=${p[0]} />`;
  if (/^\/ui\/?$/.test(path)) return html`<section><h1>ovn-livetrace</h1><p>Which packets went through a logical port, where each stopped, and why.</p><${PortSearch} /></section>`;
  return html`<p class="error" role="alert">No page at ${path}. ${link('/ui/', 'Start here')}.</p>`;
}

function TokenForm({ onDone }: { onDone: () => void }) {
  const [t, setT] = useState('');
  return html`<form class="token" onSubmit=${(e: Event) => (e.preventDefault(), api.token.set(t.trim()), onDone())}>
    <p>This service requires its API token (<code>LIVETRACE_API_TOKEN</code>). It is kept in this tab only.</p>
    <label for="token">API token</label> <input id="token" type="password" autocomplete="off" value=${t} onInput=${(e: any) => setT(e.target.value)} />
    <button type="submit">Use token</button>
  </form>`;
}

function App() {
  const [path, setPath] = useState(location.pathname);
  const [needToken, setNeedToken] = useState(false);
  const [gen, setGen] = useState(0);
  useEffect(() => {
    const f = () => setPath(location.pathname);
    addEventListener('popstate', f);
    const off = api.onTokenWanted(() => (api.token.clear(), setNeedToken(true)));
    return () => (removeEventListener('popstate', f), off());
  }, []);
  useEffect(() => {
    document.title = `${path.replace(/^\/ui\/?/, '') || 'home'} · ovn-livetrace`;
  }, [path]);
  return html`<header><nav aria-label="main">${link('/ui/', 'ovn-livetrace')}</nav></header>
    <main id="main" key=${gen}>${needToken ? html`<${TokenForm} onDone=${() => (setNeedToken(false), setGen((g) => g + 1))} />` : route(path)}</main>`;
}

render(html`<${App} />`, document.getElementById('app')!);
