// One real sandbox for everything that reads the API live: the event stream, the /ui page in
// Chromium and the terminal client (one sandbox start for all, and one file: this project runs on
// the Debian 12 pair only, see scripts/test-matrix). The tracer is one app, the API they talk to
// another app on the same database with no poller (live-fixture.ts).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../support/app';
import { waitFor } from '../support/wait';
import { cliCases, cliCrossCheckCase } from './cli-cases';
import { Live, startLive } from './live-fixture';
import { streamCases } from './stream-cases';
import { uiCases, UiState } from './ui-cases';
import { uiCrossCheckCase } from './ui-crosscheck-cases';

jest.setTimeout(240_000);

describe('live, on a real sandbox', () => {
  let live: Live;
  let drop: any;
  const ui = {} as UiState;

  beforeAll(async () => {
    // The page as npm run build:ui builds it (dist-ui/ is not committed).
    execFileSync(process.execPath, [join(ROOT, 'web/build.mjs')], { stdio: 'ignore' });
    live = await startLive();
    await live.send(2, 40001);
    await live.send(3, 40002, 53);
    drop = await waitFor('the drop trace', async () => (await live.json('/traces?logical_port=lsp1&verdict=drop')).items?.[0]);
  });

  afterAll(async () => {
    await ui.close?.();
    await live?.close();
  });

  describe('GET /traces/stream', () => streamCases(() => live));
  describe('the /ui page in Chromium', () => uiCases(() => live, () => drop, ui));
  describe('the ovn-livetrace client', () => cliCases(() => live, () => drop));
  describe('after the drop ACL is deleted', () => {
    uiCrossCheckCase(() => live, () => drop, ui);
    cliCrossCheckCase(() => live, () => drop);
  });
});
