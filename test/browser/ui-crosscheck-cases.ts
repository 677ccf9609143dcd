// The /ui/cross-checks page in a real Chromium (registered by live.spec.ts, last of all: it deletes
// the drop ACL): the first divergence marked, and a tie noted beside both tied flows.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/app';
import { modelFromDumps } from '../support/captured-model';
import { CAPTURED_OVN_TRACE } from '../support/captured-ovn-trace';
import { Comparison, compareWithSimulation, LivePassWithSteps } from '../../src/cross-checks/compare';
import { logicalFlowResolver } from '../../src/cross-checks/live-segments';
import { parseOvnTrace } from '../../src/cross-checks/ovn-trace-parse';
import type { Live } from './live-fixture';
import type { UiState } from './ui-cases';

const DOCS = join(ROOT, 'docs');

/** Last of all: it deletes the drop ACL. */
export function uiCrossCheckCase(ctx: () => Live, dropOf: () => any, state: UiState): void {
  it('the cross-check started from the path page marks the first divergence (the ACL deleted since)', async () => {
    const live = ctx();
    const drop = dropOf();
    const page = state.page;
    const shot = (name: string) => page.screenshot({ path: join(DOCS, `ui-${name}.png`), fullPage: false });
    await live.sb.nbctl('acl-del', 'sw0', 'to-lport', '1002', 'outport == "lsp3" && ip4 && udp.dst == 53');
    await live.sb.nbctl('--wait=hv', 'sync');
    await page.goto(`${live.url}/ui/paths/${drop.pathId}`);
    await page.getByRole('button', { name: 'Cross-check with ovn-trace' }).click();
    await page.waitForURL(/\/ui\/cross-checks\/\d+$/);
    const row = page.locator('table.xc tr.diverged');
    await row.waitFor();
    expect(await page.locator('h1 small').textContent()).toBe('diverged');
    expect(await row.textContent()).toContain('first divergence');
    expect(await row.textContent()).toMatch(/ls_out_acl/);
    expect(await page.locator('.divergence-text').textContent()).toMatch(/stale/);
    await row.scrollIntoViewIfNeeded();
    await shot('cross-check');
    expect(state.errors).toEqual([]);
  });

  // A match with a tie (two equal-priority flows, each tool running another: src/cross-checks/tie.ts)
  // notes each tie and marks its row; nothing in a browser showed it. One chassis does not make OVS and
  // ovn-trace break the tie apart on demand, so the stored cross-check is answered with the tie capture's
  // (scripts/capture-ovn-trace-fixtures --tie): its comparison as the service computes it, its path and
  // its ovn-trace output, in the shape of the real cross-check just stored.
  it('a cross-check that matched through a tie notes the tie, with both flows, and marks its row', async () => {
    const live = ctx();
    const drop = dropOf();
    const page = state.page;
    const real = await live.json(`/cross-checks/${(await live.json(`/traces/${drop.id}/cross-checks`)).latestCrossCheck}`);
    const tie = tieCapture();
    expect(tie.comparison.result).toBe('match');
    expect(tie.comparison.ties?.length).toBeGreaterThan(0);
    const pathId = 900_001;
    const answer = { ...real, ...tie.comparison, id: real.id, pathId, ovnTrace: { ...real.ovnTrace, output: tie.ovnTrace } };
    const mine = (u: URL) => u.pathname === `/cross-checks/${real.id}`;
    const itsPath = (u: URL) => u.pathname === `/paths/${pathId}`;
    await page.route(mine, (r) => r.fulfill({ json: answer }));
    await page.route(itsPath, (r) => r.fulfill({ json: { id: pathId, ...tie.path } }));
    try {
      await page.goto(`${live.url}/ui/cross-checks/${real.id}`);
      await page.locator('table.xc').first().waitFor();
      expect(await page.locator('h1 small').textContent()).toBe('match');
      expect(await page.locator('table.xc tr.diverged').count()).toBe(0);
      const ties = tie.comparison.ties!;
      expect(await page.locator('.tie-text').allTextContents()).toEqual(ties.map((t) => `Tie, not a difference: ${t.explanation}`));
      const rows = page.locator('table.xc tr.tie');
      expect(await rows.count()).toBe(ties.length);
      for (const [i, t] of ties.entries()) {
        const row = rows.nth(i);
        expect(await row.getAttribute('aria-label')).toBe('tie');
        expect(await row.locator('th').textContent()).toBe(`${t.tableId} tie`);
        // Both tied flows side by side: the one OVS ran live, the one ovn-trace ran.
        const [liveCell, simCell] = await row.locator('td').allTextContents();
        expect(liveCell).toContain(t.live.uuid.slice(0, 8));
        expect(simCell).toContain(t.simulated.uuid!.slice(0, 8));
      }
      expect(state.errors).toEqual([]);
    } finally {
      await page.unroute(mine);
      await page.unroute(itsPath);
    }
  });
}

/** The debian12 pair's tie-mcast capture: its path, ovn-trace's output, and their comparison as the service makes it. */
function tieCapture(): { path: { verdict: any; passes: LivePassWithSteps[]; microflow?: unknown }; ovnTrace: string; comparison: Comparison } {
  const version = 'ovs-3.1.0_ovn-23.03.1';
  const dir = join(CAPTURED_OVN_TRACE, version, 'tie');
  const path = JSON.parse(readFileSync(join(dir, 'tie-mcast-path.json'), 'utf8'));
  const ovnTrace = readFileSync(join(dir, 'tie-mcast.ovn-trace.txt'), 'utf8');
  const comparison = compareWithSimulation(path.passes, path.verdict, parseOvnTrace(ovnTrace), logicalFlowResolver(modelFromDumps(dir, version, [], 'tie-mcast.')));
  return { path, ovnTrace, comparison };
}
