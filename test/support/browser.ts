// Debian's chromium driven by playwright-core (its own browser download cannot work here), with a
// fresh profile each run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, BrowserContext, Page } from 'playwright-core';

export const CHROMIUM = process.env.LIVETRACE_CHROMIUM ?? '/usr/bin/chromium';

export async function launch(): Promise<{ ctx: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'livetrace-chromium-'));
  // The profile is given as --user-data-dir by playwright itself (it refuses the flag in args).
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
  });
  return {
    ctx,
    close: async () => {
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Console errors and uncaught exceptions of every page of a context, for the "no errors" check. */
export function watchErrors(ctx: BrowserContext): string[] {
  const errors: string[] = [];
  const watch = (p: Page) => {
    p.on('console', (m) => m.type() === 'error' && errors.push(`${p.url()}: ${m.text()}`));
    p.on('pageerror', (e) => errors.push(`${p.url()}: ${e.message}`));
  };
  ctx.on('page', watch);
  for (const p of ctx.pages()) watch(p);
  return errors;
}
