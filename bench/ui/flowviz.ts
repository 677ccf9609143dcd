// npm run bench:ui-flowviz [-- RUNS [PAIR]]: the reference tool for drawing datapath flows,
// ovs-flowviz (OVS >= 3.5, run in PAIR's root, default debian13), side by side with our /ui page on the
// same packet in one run. The bench path (bench/ui/synthetic-path.ts) is a UDP packet 10.0.0.1:5353 ->
// 10.0.0.3:53 in 5 passes (recirc_id 0x0 to 0x4, dropped by an ACL in the last); its 5 datapath flows
// are written in OVS 3.5's `dpctl/dump-flows -m` form from the captured debian13 udp dump (each pass's
// ufid, recirc_id and actions; the rest of the key as the real daemon printed it). Each run, in turn:
// `ovs-flowviz -i DUMP datapath html` (wall time, its chroot included), that HTML in the same chromium
// to its first contentful paint, and our page to its first picture (run.ts's measure). flowviz draws
// the datapath flows only, grouped by recirc_id; ours draws the passes with their logical datapaths
// and stages, ACLs and the drop. `datapath graph` needs graphviz, which the root leaves out: reported.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Page } from 'playwright-core';
import { launch } from '../../test/support/browser';
import { startStub } from './run';
import { syntheticPath } from './synthetic-path';

const ROOT = join(__dirname, '../..');
const RUNS = Number(process.argv[2] ?? 9);
const PAIR = process.argv[3] ?? 'debian13';
const CAPTURED = join(ROOT, 'test/fixtures/captured/ovs-3.5.0_ovn-25.03.0/udp/dump-flows.txt');

/** The bench path's datapath flows: pass 0 from the captured recirc_id(0) flow, the later passes from a recirculated (ct-tracked) one. */
export function benchDump(): string {
  const lines = readFileSync(CAPTURED, 'utf8').split('\n').filter((l) => l.startsWith('ufid:'));
  const first = lines.find((l) => /recirc_id\(0\),/.test(l) && /in_port\(vif1\)/.test(l));
  const later = lines.find((l) => !/recirc_id\(0\),/.test(l) && /in_port\(vif1\)/.test(l));
  if (!first || !later) throw new Error(`${CAPTURED}: no recirc_id(0) and recirculated flow from vif1 to build the bench dump from`);
  const flows = syntheticPath().passes.map((p, i) =>
    (i ? later : first)
      .replace(/^ufid:[0-9a-f-]+/, `ufid:${p.ufid}`)
      .replace(/recirc_id\([^)]*\)/, `recirc_id(${p.recircId})`)
      .replace(/actions:.*?(, dp-extra-info:|$)/, `actions:${p.datapathActions}$1`),
  );
  return `flow-dump from the main thread:\n${flows.join('\n')}\n`;
}

function flowviz(args: string[]): { ms: number; out: Buffer; err: string; status: number | null } {
  const t = performance.now();
  const r = spawnSync(join(ROOT, 'scripts/ovn-root'), ['exec', PAIR, ...args], { maxBuffer: 64 << 20 });
  return { ms: performance.now() - t, out: r.stdout, err: r.stderr.toString(), status: r.status };
}

async function firstPaint(page: Page): Promise<number> {
  await page.waitForFunction(() => (globalThis as any).performance.getEntriesByName('first-contentful-paint').length > 0, undefined, { timeout: 30_000 });
  return page.evaluate(() => (globalThis as any).performance.getEntriesByName('first-contentful-paint')[0].startTime as number);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;

async function main(): Promise<void> {
  // The root shares /tmp with the host (scripts/ovn-root), not the clone: the dump goes there.
  const dir = mkdtempSync('/tmp/livetrace-flowviz-');
  const dump = join(dir, 'dump-flows-m.txt');
  writeFileSync(dump, benchDump());
  const probe = flowviz(['ovs-flowviz', '-i', dump, 'datapath', 'html']);
  if (probe.status !== 0) throw new Error(`ovs-flowviz in the ${PAIR} root failed (exit ${probe.status}): ${probe.err.trim().split('\n').pop()}; it needs python3-click, -netaddr, -pyparsing and -rich in the root (scripts/ovn-root's PACKAGES)`);
  const graph = flowviz(['ovs-flowviz', '-i', dump, 'datapath', 'graph', '--html']);
  const graphNote = graph.status === 0 ? null : graph.err.trim().split('\n')[0];
  const { base, server } = await startStub({ '/flowviz.html': probe.out, ...(graphNote ? {} : { '/flowviz-graph.html': graph.out }) });
  const chrome = await launch();
  const rows: Array<{ tool: number; paint: number; graphTool?: number; graphPaint?: number; chroot: number; ours: number; oursPaint: number }> = [];
  let blocks = 0;
  let stages = 0;
  try {
    for (let i = 0; i < RUNS + 1; i++) {
      const chroot = flowviz(['true']).ms;
      const tool = flowviz(['ovs-flowviz', '-i', dump, 'datapath', 'html']);
      const fv = await chrome.ctx.newPage();
      await fv.goto(`${base}/flowviz.html`);
      const paint = await firstPaint(fv);
      blocks = await fv.locator('.block-matches').count();
      await fv.close();
      let graphTool: number | undefined;
      let graphPaint: number | undefined;
      if (!graphNote) {
        graphTool = flowviz(['ovs-flowviz', '-i', dump, 'datapath', 'graph', '--html']).ms;
        const g = await chrome.ctx.newPage();
        await g.goto(`${base}/flowviz-graph.html`);
        graphPaint = await firstPaint(g);
        await g.close();
      }
      const page = await chrome.ctx.newPage();
      await page.goto(`${base}/ui/paths/1`);
      const svg = page.locator('svg.picture[data-drawn-ms]');
      await svg.waitFor({ timeout: 30_000 });
      const ours = Number(await svg.getAttribute('data-drawn-ms'));
      const oursPaint = await firstPaint(page);
      stages = await page.locator('svg.picture .node.stage').count();
      await page.close();
      if (i > 0) rows.push({ tool: tool.ms, paint, graphTool, graphPaint, chroot, ours, oursPaint }); // run 0 warms caches
    }
  } finally {
    await chrome.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const col = (k: keyof (typeof rows)[0]) => rows.map((r) => r[k] as number);
  const fvTotal = rows.map((r) => r.tool + r.paint);
  const ours = median(col('ours'));
  console.log(`same packet, ${RUNS} runs (medians, range), ${PAIR} root, chromium 1280x800 headless:`);
  console.log(`  ovs-flowviz datapath html   ${median(col('tool')).toFixed(0)} ms (${range(col('tool'))}) to write ${(probe.out.length / 1024).toFixed(1)} kB of HTML; of which chroot ~${median(col('chroot')).toFixed(0)} ms`);
  console.log(`    its HTML, first paint     ${median(col('paint')).toFixed(0)} ms (${range(col('paint'))}); draws ${blocks} datapath flows as a list by recirc_id, no OVN meaning`);
  console.log(`    dump -> picture           ${median(fvTotal).toFixed(0)} ms (${range(fvTotal)})`);
  if (graphNote) console.log(`  ovs-flowviz datapath graph  not run: ${graphNote}`);
  else {
    const g = rows.map((r) => r.graphTool! + r.graphPaint!);
    console.log(`  ovs-flowviz datapath graph --html  ${median(col('graphTool')).toFixed(0)} ms + first paint ${median(col('graphPaint')).toFixed(0)} ms = ${median(g).toFixed(0)} ms (${range(g)})`);
  }
  console.log(`  ours /ui/paths/1            first picture ${ours} ms (${range(col('ours'))}), first paint ${median(col('oursPaint')).toFixed(0)} ms; draws 5 passes, ${stages} logical stage boxes, datapaths, ACLs, the drop`);
  console.log(`  ratio ours / flowviz: first picture / (flowviz run + first paint) ${(ours / median(fvTotal)).toFixed(2)}x; first picture / flowviz page's first paint ${(ours / median(col('paint'))).toFixed(1)}x`);
}

if (require.main === module) void main().catch((e) => (console.error(e), process.exit(1)));
