// Every jest run's temporary folders (mkdtemp under os.tmpdir(): stores, spools, sandboxes,
// PostgreSQL clusters) go into one folder of the run's own, removed when the run ends: specs and
// their helpers made ~2,000 folders (1.8 GB) a .ci/run and left them in /tmp, where a machine with
// little disk fills up. A jest globalSetup / globalTeardown: they run in jest's own process before
// the workers are forked, so TMPDIR set here is every test file's and every child's os.tmpdir().
// A run killed before its teardown leaves its folder; the next run removes it once its pid is gone.
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Env = Record<string, string | undefined>;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const runDir = (pid: number) => `ltj-${pid}-`;

/** Makes this run's folder under `base` (removing dead runs' there) and points `env`'s TMPDIR at it. */
export function makeRunTmpdir(base: string, env: Env): void {
  if (env.LIVETRACE_RUN_TMPDIR) return; // a nested jest (a spec that runs jest) keeps its parent's
  for (const name of readdirSync(base)) {
    const pid = Number(/^ltj-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    try {
      rmSync(join(base, name), { recursive: true, force: true });
    } catch {
      // Best effort (another user's folder, a killed run's daemon still writing): never fails the run.
    }
  }
  const dir = mkdtempSync(join(base, runDir(process.pid)));
  // As /tmp: the postgres user makes its clusters' sockets and files under it too.
  chmodSync(dir, 0o1777);
  env.LIVETRACE_RUN_TMPDIR = dir;
  env.TMPDIR = dir;
}

/** Removes the folder makeRunTmpdir made for this process, with whatever the specs left in it. */
export function removeRunTmpdir(env: Env): void {
  const dir = env.LIVETRACE_RUN_TMPDIR;
  if (dir?.includes(`/${runDir(process.pid)}`)) rmSync(dir, { recursive: true, force: true });
}

export default function runTmpdirSetup(): void {
  makeRunTmpdir(tmpdir(), process.env);
}
