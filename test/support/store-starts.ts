// Several processes starting on one SQLite file at the same moment (api instances and an agent on one
// host, or a restart while the old process still shuts down): each a real node process running
// store-start.ts, all told to go once every one of them has loaded.
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export interface StoreStart {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface StartingStore {
  child: ChildProcess;
  /** What it said so far. */
  out(): StoreStart;
  /** Its exit code and everything it said. */
  exited: Promise<StoreStart>;
}

const REGISTER = join(__dirname, 'swc-register.js');
const SCRIPT = join(__dirname, 'store-start.ts');

/** Starts `n` processes on `file` at once, each waiting at most `waitMs` for the file's write lock (the default: the configuration's). */
export async function startStores(file: string, n: number, waitMs?: number): Promise<StartingStore[]> {
  const kids = Array.from({ length: n }, () => {
    const child = spawn(process.execPath, ['-r', REGISTER, SCRIPT, file, ...(waitMs === undefined ? [] : [String(waitMs)])]);
    const out: StoreStart = { code: null, stdout: '', stderr: '' };
    child.stdout.on('data', (d) => (out.stdout += d));
    child.stderr.on('data', (d) => (out.stderr += d));
    const exited = new Promise<StoreStart>((r) => child.on('close', (code) => r({ ...out, code })));
    return { child, out: () => ({ ...out, code: child.exitCode }), exited };
  });
  while (!kids.every((k) => k.out().stdout.startsWith('ready') || k.child.exitCode !== null)) await new Promise((r) => setTimeout(r, 10));
  for (const k of kids) k.child.stdin.end('go\n');
  return kids;
}

/** startStores, then each one's exit code and output. */
export async function storeStarts(file: string, n: number, waitMs?: number): Promise<StoreStart[]> {
  return Promise.all((await startStores(file, n, waitMs)).map((k) => k.exited));
}
