// Another process on the same SQLite file (another agent, a hand-run migration): `script` runs in a
// child node with `db`, a better-sqlite3 connection to `file`, already open. What the writer's
// lock specs and bench/storage/lock-stall.ts hold the write lock or commit with.
import { ChildProcess, spawn } from 'node:child_process';

export interface SqliteProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout so far. */
  out(): string;
  exited: Promise<number | null>;
}

/** Started once its stdout begins with `ready` (the script writes it when it holds what it should). */
export async function sqliteProcess(file: string, script: string, ready: string): Promise<SqliteProcess> {
  const child = spawn(process.execPath, [
    '-e',
    `const D = require(${JSON.stringify(require.resolve('better-sqlite3'))});
     const db = new D(${JSON.stringify(file)});
     ${script}`,
  ]);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  while (!out.startsWith(ready)) {
    if (child.exitCode !== null) throw new Error(`the SQLite process exited ${child.exitCode} before '${ready}': ${out}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { child, out: () => out, exited };
}
