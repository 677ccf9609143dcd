// The /ui page in a real Chromium (registered by live.spec.ts): live packets without a reload,
// the path picture of a dropped packet naming the ACL, stage details, the trace text and the
// audits, phone width, the token form, and no console errors (the cross-check page: ui-crosscheck-cases.ts).
// Screenshots of each page go to docs/ (committed, for the README).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ROOT } from '../support/app';
import { launch, watchErrors } from '../support/browser';
import { markFields } from '../support/mark-fields';
import { Live, TOKEN } from './live-fixture';

const DOCS = join(ROOT, 'docs');

/** The one browser tab the cases share (it keeps the token in its sessionStorage). */
export interface UiState {
  page: Page;
  errors: string[];
  close(): Promise<void>;
}

export function uiCases(ctx: () => Live, dropOf: () => any, state: UiState): void {
  let live: Live;
  let page: Page;
  let errors: string[];
  let drop: any;
  const shot = (name: string, p: Page = page) => p.screenshot({ path: join(DOCS, `ui-${name}.png`), fullPage: false });

  beforeAll(async () => {
    live = ctx();
    drop = dropOf();
    mkdirSync(DOCS, { recursive: true });
    const chrome = await launch();
    errors = watchErrors(chrome.ctx);
    page = chrome.ctx.pages()[0] ?? (await chrome.ctx.newPage());
    Object.assign(state, { page, errors, close: chrome.close });
  });

  afterEach(() => {
    expect(errors).toEqual([]);
  });

  it('serves the page without the token but behind the Host check, with a CSP; the API still wants the token', async () => {
    const { request } = await import('node:http');
    const get = (path: string, host?: string) =>
      new Promise<{ status: number; headers: Record<string, any>; body: string }>((resolve, reject) => {
        const u = new URL(live.url + path);
        const req = request({ host: u.hostname, port: u.port, path, headers: host ? { Host: host } : {} }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const page = await get('/ui/ports/lsp1');
    expect(page.status).toBe(200);
    expect(page.body).toContain('/ui/assets/app.js');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.headers['access-control-allow-origin']).toBeUndefined();
    expect((await get('/ui/assets/app.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await get('/ui/assets/nope.js')).status).toBe(404);
    expect((await get('/ui/ports/lsp1', 'evil.example')).status).toBe(421);
    expect((await get('/traces?logical_port=lsp1')).status).toBe(401);
  });

  // Then: the tab keeps the token for the tests after this one.
  it('asks for the token once when the API wants one, and keeps it for the tab', async () => {
    await page.goto(`${live.url}/ui/ports/lsp1`);
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.locator('.packet').first().waitFor();
    await page.goto(`${live.url}/ui/traces/${drop.id}`);
    await page.locator('pre.detrace').waitFor();
    // The one 401 that made the page ask, nothing else.
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    errors.length = 0;
  });

  it('the port page shows a new packet within seconds of its injection, without a reload', async () => {
    await page.goto(`${live.url}/ui/ports/lsp1`);
    await page.locator('.packet').first().waitFor();
    await page.locator('.live', { hasText: 'live' }).waitFor();
    await page.evaluate(() => ((globalThis as any).sameDocument = true));
    const before = await page.locator('.packet').count();
    await live.send(2, 41003);
    // Its passes: the first (recirculate) is hidden unless asked for; the one that output to lsp2 shows.
    const row = page.locator('.packet.output', { hasText: '10.0.0.1:41003 → 10.0.0.2:9' });
    await row.first().waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => (globalThis as any).sameDocument)).toBe(true);
    expect(await page.locator('.packet').count()).toBeGreaterThan(before);
    expect(await page.locator('.packet').first().textContent()).toContain('10.0.0.1:41003');
    expect(await row.first().locator('.verdict').textContent()).toBe('output to lsp2');
    // One line says what happened: the drop names its ACL. The filtered list is held back a
    // second, as on a loaded machine: until it comes the page shows no row of the old filter
    // (the drop is in the unfiltered list too, so seeing it proves nothing by itself).
    const dropList = (u: URL) => u.pathname === '/traces' && u.searchParams.get('verdict') === 'drop';
    await page.route(dropList, async (r) => (await new Promise((ok) => setTimeout(ok, 1000)), r.continue()));
    await page.getByLabel('Verdict').selectOption('drop');
    expect(await page.locator('ol.packets').getAttribute('aria-busy')).toBe('true');
    expect(await page.locator('.packet').count()).toBe(0);
    await page.locator(`.packet[data-trace="${drop.id}"]`).waitFor();
    await page.unroute(dropList);
    expect(await page.locator('ol.packets').getAttribute('aria-busy')).toBe('false');
    expect(await page.locator(`.packet[data-trace="${drop.id}"] .verdict`).textContent()).toContain('dropped by ACL: to-lport, priority=1002');
    expect(await page.locator('.packet.output').count()).toBe(0);
    await page.getByLabel('Verdict').selectOption('');
    await page.locator('.packet.output').first().waitFor();
    await shot('port');
  });

  it('a time filter counts back from the server’s clock, not the tab’s', async () => {
    await live.send(2, 41009);
    // A tab whose clock is an hour ahead: 'last 5 minutes' by its clock holds no packet of the sandbox.
    const tab = await page.context().newPage();
    try {
      await tab.clock.setFixedTime(Date.now() + 3_600_000);
      await tab.goto(`${live.url}/ui/ports/lsp1`);
      await tab.getByLabel('API token').fill(TOKEN);
      await tab.getByRole('button', { name: 'Use token' }).click();
      await tab.locator('.packet', { hasText: ':41009' }).first().waitFor();
      const listed = tab.waitForResponse((r) => new URL(r.url()).pathname === '/traces' && new URL(r.url()).searchParams.has('since'));
      await tab.getByLabel('Time').selectOption('300');
      await listed;
      await tab.locator('ol.packets[aria-busy="false"]').waitFor();
      // Before: the list asked since an hour ahead of the server, found nothing, and the stream
      // started after the newest trace, so the packet sent just before was not shown.
      expect(await tab.locator('.packet', { hasText: ':41009' }).count()).toBeGreaterThan(0);
    } finally {
      await tab.close();
    }
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    errors.length = 0;
  });

  it('a time filter with no packet in it stays empty until a new packet comes: the older ones do not stream in', async () => {
    // The server's clock as this tab hears it (each answer's Date header) an hour ahead: every
    // packet of the sandbox is older than 'last 5 minutes'. The stream is left as it is.
    const tab = await page.context().newPage();
    try {
      await tab.route(
        (u) => u.pathname !== '/traces/stream',
        async (r) => {
          const res = await r.fetch();
          await r.fulfill({ response: res, headers: { ...res.headers(), date: new Date(Date.now() + 3_600_000).toUTCString() } });
        },
      );
      await tab.goto(`${live.url}/ui/ports/lsp1`);
      await tab.getByLabel('API token').fill(TOKEN);
      await tab.getByRole('button', { name: 'Use token' }).click();
      await tab.locator('.packet').first().waitFor();
      // The new stream's request: its start point is settled before it is sent, so before the packet.
      const streamed = tab.waitForRequest((r) => new URL(r.url()).pathname === '/traces/stream');
      await tab.getByLabel('Time').selectOption('300');
      await streamed;
      await live.send(2, 41007);
      await tab.locator('.packet', { hasText: ':41007' }).first().waitFor({ timeout: 10_000 });
      // The stream sends in order: anything it resumed before the new packet is on the page by now.
      // Before: every earlier packet of lsp1 (40001, 40002, 41003…) came in from Last-Event-ID 0.
      const flows = await tab.locator('.packet .flow').allTextContents();
      expect(flows.filter((f) => !f.includes(':41007'))).toEqual([]);
      expect(await tab.locator('p.error').count()).toBe(0);
    } finally {
      await tab.close();
    }
    // The one 401 that made the new tab ask for the token.
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    errors.length = 0;
  });

  it('the path page of a dropped packet draws its passes and names the dropping ACL; a stage shows its flows', async () => {
    const path = await live.json(`/paths/${drop.pathId}`);
    await page.goto(`${live.url}/ui/paths/${drop.pathId}`);
    await page.locator('svg.picture').waitFor();
    expect(await page.locator('.cluster.pass').count()).toBe(path.passes.length);
    expect(await page.locator('.verdict-line').textContent()).toContain('dropped by ACL: to-lport, priority=1002');
    const acl = page.locator('.node.northbound.drop');
    expect(await acl.getAttribute('aria-label')).toContain('ACL: to-lport, priority=1002');
    expect(await page.locator('.node.stage.drop').count()).toBe(1);
    expect(await page.locator('.edge.recirc').count()).toBe(path.passes.length - 1);
    // Each pass's head: chassis, recirculation id, conntrack state, then its datapath flow's lifetime.
    const heads = page.locator('.node.head');
    expect(await heads.count()).toBe(path.passes.length);
    expect(await heads.last().textContent()).toMatch(new RegExp(`pass ${path.passes.length} · hv1 · recirc ${path.passes.at(-1).recircId} · ct [a-z|]+`));
    await heads.last().locator('text', { hasText: /dp flow [0-9a-f]{8} · (live|removed)[^,]*, [1-9]\d* packets/ }).waitFor();
    // By keyboard: the dropping stage, then Enter.
    await page.locator('.node.stage.drop').focus();
    await page.keyboard.press('Enter');
    const detail = page.locator('aside.detail');
    await detail.locator('pre.detrace', { hasText: 'Logical flow:' }).waitFor();
    expect(await detail.locator('h2').textContent()).toMatch(/ls_out_acl/);
    expect(await detail.locator('table.rules tbody tr').count()).toBeGreaterThan(0);
    expect(await detail.textContent()).toContain(path.verdict.logicalFlow);
    await shot('path');
    // A slow answer for a stage clicked past is not shown under the stage selected after it.
    expect(path.passes.length).toBeGreaterThan(1);
    const firstPass = path.passes[0].id;
    const slow = (u: URL) => u.pathname === `/traces/${firstPass}` && u.searchParams.get('format') === 'text';
    await page.route(slow, async (r) => (await new Promise((ok) => setTimeout(ok, 1000)), r.continue()));
    const answered = page.waitForResponse((r) => slow(new URL(r.url())));
    await page.locator('.node.stage').first().click();
    await page.locator('.node.stage.drop').click();
    await answered;
    await page.unroute(slow);
    await page.evaluate(() => new Promise((ok) => setTimeout(ok, 100)));
    expect(await detail.locator('h2').textContent()).toMatch(/ls_out_acl/);
    const cookie = (await detail.locator('table.rules tbody tr td').nth(2).textContent())!;
    expect(cookie).toMatch(/^0x[0-9a-f]+$/);
    // The table gives the API's cookie (eight hex digits, as steps store it); the trace text is OVS's own,
    // which drops leading zeros (`cookie 0x67d9058` for a logical flow whose UUID starts 067d9058: CI,
    // one run in sixteen). The same rule, by value.
    expect(await detail.locator('pre.detrace').textContent()).toContain(`cookie 0x${BigInt(cookie).toString(16)}`);
    await page.getByRole('button', { name: 'Fit to width' }).click();
    await shot('path-fit');
  });

  it('the trace page is ovn-detrace text whose cookies link to the logical flow audit, with its chart', async () => {
    await page.goto(`${live.url}/ui/traces/${drop.id}`);
    const pre = page.locator('pre.detrace');
    await pre.waitFor();
    expect(await pre.textContent()).toContain('Datapath actions: drop');
    const cookie = pre.locator(`a[href="/ui/logical-flows/${drop.verdict.logicalFlow}"]`).first();
    expect(await pre.locator(`a[href="/ui/northbound/ACL/${drop.verdict.northbound.uuid}"]`).first().textContent()).toBe(drop.verdict.northbound.summary);
    await shot('trace');
    await cookie.click();
    await page.locator('figure.chart').waitFor();
    expect(page.url()).toContain(`/ui/logical-flows/${drop.verdict.logicalFlow}`);
    expect(await page.locator('figure.chart figcaption').textContent()).toMatch(/dropped [1-9]\d* packets/);
  });

  it('the northbound audit of the ACL charts what it dropped', async () => {
    await page.goto(`${live.url}/ui/northbound/ACL/${drop.verdict.northbound.uuid}`);
    await page.locator('figure.chart').waitFor();
    expect(await page.locator('figure.chart figcaption').textContent()).toMatch(/dropped [1-9]\d* packets/);
    expect(await page.locator('table.audit tbody tr.drop').count()).toBeGreaterThan(0);
    await shot('northbound');
  });

  it('a port name holding a bidi override (U+202E) does not turn the verdict line around: each name in a <bdi>, shown escaped', async () => {
    // The API's answer for the drop's trace with hostile names (a tenant names its own ports).
    const real = await live.json(`/traces/${drop.id}`);
    const evil = { ...real, verdict: { ...real.verdict, kinds: ['output'], logicalPorts: ['lsp\u202e1', 'lsp2'], northbound: null, logicalFlow: null } };
    const mine = (u: URL) => u.pathname === `/traces/${drop.id}` && u.search === '';
    await page.route(mine, (r) => r.fulfill({ json: evil }));
    try {
      // The token the tab keeps (the token case), also when this case runs alone (-t): the same one.
      await page.addInitScript((t) => (globalThis as any).sessionStorage.setItem('livetrace.token', t), TOKEN);
      await page.goto(`${live.url}/ui/traces/${drop.id}`);
      const line = page.locator('p.summary');
      await line.locator('bdi').first().waitFor();
      expect(await line.textContent()).toMatch(/^output to lsp\\u202e1, lsp2/);
      const names = line.locator('bdi');
      expect(await names.allTextContents()).toEqual(['lsp\\u202e1', 'lsp2']);
      // Read left to right as written: the first name before the second on the screen.
      const [a, b] = [await names.nth(0).boundingBox(), await names.nth(1).boundingBox()];
      expect(a!.x + a!.width).toBeLessThanOrEqual(b!.x);
    } finally {
      await page.unroute(mine);
    }
  });

  it('the path picture isolates names too (SVG has no <bdi>): names with right-to-left letters or U+202E keep their written order', async () => {
    // The API's answer for the drop's path with hostile names (a tenant names its own ports). A
    // Hebrew name followed by ', 12' drew as '12 ,בא' (the comma and digits join the right-to-left
    // run), and U+202E turned the rest of the label around.
    const ports = ['\u05d0\u05d1', '12', 'lsp\u202e1', 'lsp2'];
    const real = await live.json(`/paths/${drop.pathId}?include=steps`);
    const last = real.passes.at(-1);
    const evil = { ...real, passes: [...real.passes.slice(0, -1), { ...last, verdict: { ...last.verdict, kinds: ['output'], logicalPorts: ports, northbound: null, logicalFlow: null } }] };
    const mine = (u: URL) => u.pathname === `/paths/${drop.pathId}`;
    await page.route(mine, (r) => r.fulfill({ json: evil }));
    try {
      await page.addInitScript((t) => (globalThis as any).sessionStorage.setItem('livetrace.token', t), TOKEN);
      await page.goto(`${live.url}/ui/paths/${drop.pathId}`);
      const label = page.locator('.node.verdict.output text').first();
      await label.waitFor();
      // Where each name's characters are drawn: every one of a name left of every one of the next.
      const spans = await label.evaluate((el: any, names: string[]) => {
        const text: string = el.textContent;
        let from = 0;
        return names.map((n) => {
          // Escaped as the page shows it; raw as a page that does not escape drew it.
          const shown = text.includes(n.replace('\u202e', '\\u202e')) ? n.replace('\u202e', '\\u202e') : n;
          const at = text.indexOf(shown, from);
          from = at + shown.length;
          const x = (i: number) => {
            try {
              return el.getStartPositionOfChar(i).x as number;
            } catch {
              return NaN; // a control character laid out as nothing
            }
          };
          const xs = at < 0 ? [] : Array.from({ length: shown.length }, (_, k) => x(at + k)).filter((v) => !Number.isNaN(v));
          return { name: shown, found: at >= 0, left: Math.min(...xs), right: Math.max(...xs) };
        });
      }, ports);
      for (let i = 1; i < spans.length; i++) expect([spans[i - 1].name, spans[i].name, spans[i - 1].right < spans[i].left]).toEqual([spans[i - 1].name, spans[i].name, true]);
      expect(spans.map((s) => [s.name, s.found])).toEqual(ports.map((n) => [n.replace('\u202e', '\\u202e'), true]));
      expect(await label.locator('tspan.name').allTextContents()).toEqual(spans.map((s) => s.name));
    } finally {
      await page.unroute(mine);
    }
  });

  // A cross-chassis path settled without a chassis (hv2 never told what its agent stored, two days
  // on) read like a whole one on the page, and one still provisional did not say why; then the
  // verdict line said so, and the hop's edge was still drawn like a whole one.
  it('a path settled without a chassis names it under the verdict line, with why, and on its hop; one provisional says why; the whole path says neither', async () => {
    await page.addInitScript((t) => (globalThis as any).sessionStorage.setItem('livetrace.token', t), TOKEN);
    const shown = async () => {
      await page.goto(`${live.url}/ui/paths/${drop.pathId}`);
      await page.locator('svg.picture').waitFor();
      return { line: await page.locator('.verdict-line').textContent(), notes: await page.locator('.verdict-note').allTextContents(), hops: await page.locator('.edge.tunnel text').allTextContents() };
    };
    const whole = await shown();
    expect(whole.line).toMatch(/^dropped by ACL/);
    expect(whole.notes).toEqual([]);
    // The drop's path as the API answers it, as a cross-chassis path's: its second pass on hv2,
    // reached through a Geneve hop, the verdict's and the hop's fields as LinkMarks, the code
    // GET /paths/:id runs, words them (this sandbox has one chassis).
    const real = await live.json(`/paths/${drop.pathId}?include=steps`);
    const [first, second] = real.passes;
    const tunnel = { fromChassis: first.chassis, fromTraceId: first.id, remoteIp: '192.168.0.2', remoteChassis: 'hv2', encap: 'geneve', vni: 1, ingressKey: 1, egressKey: 2, toTraceId: second.id };
    const mine = (u: URL) => u.pathname === `/paths/${drop.pathId}`;
    for (const state of ['settled', 'provisional'] as const) {
      const { verdict, hop } = await markFields(state, first.id);
      const cross = { ...real, passes: [first, { ...second, chassis: 'hv2' }], edges: [], verdict: { ...real.verdict, ...verdict, chassis: 'hv2', tunnels: [{ ...tunnel, ...hop }] } };
      await page.route(mine, (r) => r.fulfill({ json: cross }));
      try {
        const { line, notes, hops } = await shown();
        if (state === 'settled') expect({ line, notes, hops }).toEqual({ line: expect.stringMatching(/^settled without hv2; dropped by ACL/), notes: [`settled without hv2: ${verdict.settledReason}`], hops: ['geneve vni 1 → hv2 (settled without hv2)'] });
        else expect({ line, notes, hops }).toEqual({ line: expect.stringMatching(/^provisional; dropped by ACL/), notes: [`provisional: ${verdict.provisionalReason}`], hops: ['geneve vni 1 → hv2 (provisional)'] });
      } finally {
        await page.unroute(mine);
      }
    }
  });

  it('reads at phone width: the port page does not scroll sideways', async () => {
    const phone = page;
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${live.url}/ui/ports/lsp1`);
    await phone.locator('.packet').first().waitFor();
    expect(await phone.evaluate(() => (globalThis as any).document.documentElement.scrollWidth <= (globalThis as any).innerWidth)).toBe(true);
    await shot('port-phone', phone);
    await phone.goto(`${live.url}/ui/paths/${drop.pathId}`);
    await phone.locator('svg.picture').waitFor();
    await shot('path-phone', phone);
    await phone.setViewportSize({ width: 1280, height: 800 });
  });

}
