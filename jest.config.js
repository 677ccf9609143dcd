// Three suites: unit (pure, no daemons, parallel), integration (real OVS/OVN daemons,
// one at a time on these 2 cores) and e2e (HTTP against the app on a real sandbox).
// swc strips types only; `npm run typecheck` is the type gate.
const fs = require('fs');
const path = require('path');

// ESM-only packages (Nest 12 and what it imports) are compiled to CommonJS for jest.
function esmPackages() {
  const root = path.join(__dirname, 'node_modules');
  const names = [];
  for (const entry of fs.existsSync(root) ? fs.readdirSync(root) : []) {
    const dirs = entry.startsWith('@') ? fs.readdirSync(path.join(root, entry)).map((d) => `${entry}/${d}`) : [entry];
    for (const name of dirs) {
      try {
        const pkg = JSON.parse(fs.readFileSync(path.join(root, name, 'package.json'), 'utf8'));
        if (pkg.type === 'module') names.push(name);
      } catch {
        /* not a package */
      }
    }
  }
  return names;
}

// The api's reader threads, started by the app under test in process, compile our .ts with swc as
// jest does, not with ts-node's TypeScript (~2.5 s of CPU a thread; src/read-workers/read-pool.ts).
// Set here, in jest's own process: its workers and every child they start inherit it.
process.env.LIVETRACE_TS_REGISTER ||= path.join(__dirname, 'test/support/swc-register.js');

// LIVETRACE_PAIR picks the OVS/OVN pair the daemons come from (test/support/pair-setup.ts).
const pairSetup = '<rootDir>/test/support/pair-setup.ts';
// e2e files whose subject does not change with the OVS/OVN pair run on the first pair (Debian 12)
// only, to keep CI under its 20 minutes: hardening runs with no OVS/OVN daemon at all, the fuzz
// throws hostile HTTP at routes whose parsing is ours, and three chassis on SQLite are the same test
// as test/postgres/multi-chassis.spec.ts on Debian 12 (the other pairs keep the SQLite one: the
// tunnel formats differ by version). Only inside scripts/test-matrix: a file named on the command
// line always runs.
const pair = process.env.LIVETRACE_PAIR ?? 'debian12';
const firstPairOnly = !process.env.LIVETRACE_MATRIX_DIR ? [] : pair === 'debian12' ? ['/test/e2e/multi-chassis\\.e2e-spec\\.ts$'] : ['/test/e2e/hardening\\.e2e-spec\\.ts$', '/test/e2e/fuzz\\.e2e-spec\\.ts$'];
const esm = esmPackages().map((n) => n.replace(/[.+]/g, '\\$&'));
// A project's time a test. Not its `testTimeout`, which jest does not read there (jest-circus takes
// the run's global one, jest's 5 s): a setup file sets it in each of the project's files.
const testTimeout = (ms) => ({ globals: { testTimeoutMs: ms }, setupFilesAfterEnv: ['<rootDir>/test/support/test-timeout.ts'] });
const common = {
  rootDir: __dirname,
  transform: { '^.+\\.(t|j|mj)s$': '<rootDir>/test/support/jest-transform.js' },
  transformIgnorePatterns: [`/node_modules/(?!(${esm.join('|')})/)`],
  testEnvironment: 'node',
  // One fixed fast-check seed for every property test (LIVETRACE_FC_SEED=random to explore).
  setupFiles: ['<rootDir>/test/support/fast-check-seed.ts'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
};

module.exports = {
  // jest's default is a worker fewer than the cores: one on these 2, with jest's own process idle.
  // Two workers take the unit suite from ~131 s to ~92 s here (integration, e2e and the rest run
  // --runInBand, their files one at a time, whatever this says).
  maxWorkers: Math.max(2, require('os').availableParallelism() - 1),
  // One temporary folder a run, removed at its end (test/support/run-tmpdir.ts).
  globalSetup: '<rootDir>/test/support/run-tmpdir.ts',
  globalTeardown: '<rootDir>/test/support/run-tmpdir-teardown.ts',
  projects: [
    // 20 s a test, not jest's 5: a spec with a real SQLite file and thousands of log lines takes ~2 s
    // here and ran past 5 s in a clean clone's first run (transforms not cached, two workers).
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.spec.ts'], ...testTimeout(20_000) },
    // 60 s a test: these write real SQLite files through the real writer (spool-indexes migrates a file
    // at every earlier version, retention-size fills one past a few MB); on CI's 2 cores beside two e2e
    // lanes both ran past jest's 5 s (stop 40's pre-check), as fast as they run alone.
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.spec.ts'], globalSetup: pairSetup, slowTestThreshold: 60, ...testTimeout(60_000) },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'], testPathIgnorePatterns: firstPairOnly, globalSetup: pairSetup, slowTestThreshold: 60 },
    // The page in a real Chromium, the event stream and the terminal client on one sandbox: run by
    // scripts/test-matrix on the Debian 12 pair only (the UI reads the API, which every pair's e2e covers).
    // PostgreSQL, the store of many agents (issue 19): each file starts its own cluster (scripts/pg-cluster);
    // run by scripts/test-matrix on the Debian 12 pair only.
    { ...common, displayName: 'postgres', testMatch: ['<rootDir>/test/postgres/**/*.spec.ts'], globalSetup: pairSetup, slowTestThreshold: 60 },
    { ...common, displayName: 'browser', testMatch: ['<rootDir>/test/browser/**/*.spec.ts'], globalSetup: pairSetup, slowTestThreshold: 60 },
  ],
};
