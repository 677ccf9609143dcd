// A jest project's time a test: jest.config.js gave the unit project 20 s (a spec that starts a
// process, the CLI's `traces --follow`, takes ~4 s at a load of 12 on these 2 cores) and the
// integration project 60 s, but a project's `testTimeout` is not read: jest-circus takes the run's
// global one, jest's 5 s, and follow-stream.spec.ts failed with "Exceeded timeout of 5000 ms".
// Read here from jest-circus's own state, as it runs this file.
import { join } from 'node:path';

/** jest-circus's state (its symbol is not registered: found by its description). */
const circusState = () => {
  const sym = Object.getOwnPropertySymbols(globalThis).find((s) => s.description === 'JEST_STATE_SYMBOL');
  return (globalThis as Record<symbol, { testTimeout: number } | undefined>)[sym!];
};

describe("a jest project's time a test", () => {
  it('is, in the unit project, the 20 s jest.config.js gives it, not jest 5 s default', () => {
    expect(circusState()?.testTimeout).toBe(20_000);
  });

  it('is never set as a project option, which jest does not read', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const config = require(join(__dirname, '../../../jest.config.js')) as { projects: Array<{ displayName: string; testTimeout?: number }> };
    expect(config.projects.filter((p) => p.testTimeout !== undefined).map((p) => p.displayName)).toEqual([]);
  });
});
