// The run's temporary folder (test/support/run-tmpdir.ts): made, the run's TMPDIR, removed at the
// end with what the specs left in it; the folder of a run killed before its teardown removed by
// the next run, a live run's kept.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRunTmpdir, removeRunTmpdir } from '../../support/run-tmpdir';

describe('a jest run has one temporary folder of its own', () => {
  let base: string;
  beforeEach(() => (base = mkdtempSync(join(tmpdir(), 'run-tmpdir-'))));
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it("is the run's TMPDIR and goes, with what was left in it, at teardown", () => {
    const env: Record<string, string | undefined> = {};
    makeRunTmpdir(base, env);
    const dir = env.LIVETRACE_RUN_TMPDIR!;
    expect(dir.startsWith(join(base, `ltj-${process.pid}-`))).toBe(true);
    expect(env.TMPDIR).toBe(dir);
    const left = mkdtempSync(join(dir, 'livetrace-app-'));
    writeFileSync(join(left, 'livetrace.sqlite'), 'x');
    removeRunTmpdir(env);
    expect(existsSync(dir)).toBe(false);
  });

  it("removes a dead run's folder, keeps a live one's and what is not a run's", () => {
    const dead = join(base, 'ltj-2147483646-AbCdEf'); // beyond pid_max: no such process
    const live = join(base, `ltj-${process.ppid}-AbCdEf`);
    const other = join(base, 'livetrace-sb-AbCdEf');
    for (const d of [dead, live, other]) mkdirSync(d);
    makeRunTmpdir(base, {});
    expect([existsSync(dead), existsSync(live), existsSync(other)]).toEqual([false, true, true]);
  });

  it('a nested run keeps the folder it was given', () => {
    const env: Record<string, string | undefined> = { LIVETRACE_RUN_TMPDIR: '/somewhere/ltj-1-x', TMPDIR: '/somewhere/ltj-1-x' };
    makeRunTmpdir(base, env);
    removeRunTmpdir(env);
    expect(env.TMPDIR).toBe('/somewhere/ltj-1-x');
  });
});
