// npm run bench:ui [-- RUNS]: the /ui page's weight (its script and style as built by
// npm run build:ui, gzip and brotli) and its time to first picture on a path of 5 passes and 150
// logical stages, in Debian's chromium (headless, fresh profile), 1280x800. The page is the built
// one; the API is a stub on loopback answering the synthetic path, so the time is the page's own:
// navigation start -> the laid-out SVG in the DOM, at the next animation frame (data-drawn-ms, set by
// web/pages/path.ts). Budget (issue 20): < 300 kB of scripts compressed, < 1 s to the first picture.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { launch } from '../../test/support/browser';
import { syntheticPath } from './synthetic-path';

const ROOT = join(__dirname, '../..');
const UI = join(ROOT, 'dist-ui');
const RUNS = Number(process.argv[2] ?? 7);

/** The built page and a loopback stub of the API answering the synthetic path; `extra` maps more paths to HTML (bench/ui/flowviz.ts serves ovs-flowviz's page from the same origin). */
export async function startStub(extra: Record<string, Buffer> = {}): Promise<{ base: string; server: Server }> {
  execFileSync(process.execPath, [join(ROOT, 'web/build.mjs')], { stdio: 'ignore' });
  const path = JSON.stringify(syntheticPath());
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    if (extra[url]) return res.setHeader('Content-Type', 'text/html'), res.end(extra[url]);
    if (url.startsWith('/ui/assets/')) {
      const f = url.slice('/ui/assets/'.length);
      res.setHeader('Content-Type', f.endsWith('.js') ? 'text/javascript' : 'text/css');
      return res.end(readFileSync(join(UI, 'assets', f)));
    }
    if (url.startsWith('/ui/')) return res.setHeader('Content-Type', 'text/html'), res.end(readFileSync(join(UI, 'index.html')));
    res.setHeader('Content-Type', 'application/json');
    if (url.startsWith('/paths/1')) return res.end(path);
    if (url.includes('/cross-checks')) return res.end('{"items":[],"latestCrossCheck":null,"next":null}');
    res.statusCode = 404;
    res.end('{"statusCode":404,"message":"stub"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function main(): Promise<void> {
  const { base, server } = await startStub();
  const files = ['app.js', 'style.css'].map((f) => {
    const b = readFileSync(join(UI, 'assets', f));
    return { f, raw: b.length, gzip: gzipSync(b, { level: 9 }).length, br: brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length };
  });
  const chrome = await launch();
  const times: Array<{ drawn: number; dcl: number; nodes: number }> = [];
  try {
    for (let i = 0; i < RUNS + 1; i++) {
      const page = await chrome.ctx.newPage();
      await page.goto(`${base}/ui/paths/1`);
      const svg = page.locator('svg.picture[data-drawn-ms]');
      await svg.waitFor({ timeout: 30_000 });
      const drawn = Number(await svg.getAttribute('data-drawn-ms'));
      const dcl = await page.evaluate(() => (globalThis as any).performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd as number);
      const nodes = await page.locator('svg.picture .node.stage').count();
      if (i > 0) times.push({ drawn, dcl, nodes }); // the first run warms the OS file cache
      await page.close();
    }
  } finally {
    await chrome.close();
    server.close();
  }
  const sorted = times.map((t) => t.drawn).sort((a, b) => a - b);
  const total = (k: 'raw' | 'gzip' | 'br') => files.reduce((a, f) => a + f[k], 0);
  console.log('page weight (dist-ui/assets):');
  for (const f of files) console.log(`  ${f.f.padEnd(10)} ${(f.raw / 1024).toFixed(1)} kB raw, ${(f.gzip / 1024).toFixed(1)} kB gzip, ${(f.br / 1024).toFixed(1)} kB brotli`);
  console.log(`  total      ${(total('raw') / 1024).toFixed(1)} kB raw, ${(total('gzip') / 1024).toFixed(1)} kB gzip, ${(total('br') / 1024).toFixed(1)} kB brotli (budget: 300 kB of scripts compressed)`);
  console.log(`time to first picture, 5 passes / ${times[0]?.nodes} stage boxes (150 OpenFlow steps), ${RUNS} runs: median ${sorted[Math.floor(sorted.length / 2)]} ms, min ${sorted[0]} ms, max ${sorted[sorted.length - 1]} ms (budget: 1000 ms); DOMContentLoaded median ${times.map((t) => t.dcl).sort((a, b) => a - b)[Math.floor(times.length / 2)].toFixed(0)} ms`);
}

if (require.main === module) void main().catch((e) => (console.error(e), process.exit(1)));
