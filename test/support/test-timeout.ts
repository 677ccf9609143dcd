// A jest project's time a test (jest.config.js testTimeout(ms), given as `globals.testTimeoutMs`):
// a project's own `testTimeout` option is not read (jest-circus takes the run's global one, jest's
// 5 s), so it is set here, in each of the project's files.
jest.setTimeout((globalThis as { testTimeoutMs?: number }).testTimeoutMs ?? 5000);
