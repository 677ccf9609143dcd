// Every table has one owner (issue 17): SQL is written only in store classes, files named
// *-store.ts, and in src/storage (the writer's statement cache, the read connection); only they
// touch better-sqlite3. This is what lets a second database backend be added store by store.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const SRC = join(__dirname, '../../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** SQL statements, prepared statements and raw queries (the grep, and PRAGMA). */
const SQL = /\b(INSERT (OR \w+ )?INTO|SELECT [^'`"]*\bFROM\b|UPDATE \w+ SET|DELETE FROM|PRAGMA \w+)|\.prepare\(|\bdataSource\.query\(/;
const SQLITE = /from 'better-sqlite3'/;
const mayHoldSql = (path: string) => path.endsWith('-store.ts') || path.startsWith('storage/');

const all = files(SRC).map((p) => ({ path: relative(SRC, p), text: readFileSync(p, 'utf8') }));

describe('SQL lives in store classes only', () => {
  it('finds the stores', () => {
    const stores = all.filter((f) => SQL.test(f.text)).map((f) => f.path);
    expect(stores).toEqual(expect.arrayContaining(['datapath-flows/datapath-flow-store.ts', 'traces/trace-store.ts', 'upcalls/upcall-store.ts']));
  });

  it('no file but a *-store.ts or one of src/storage writes SQL', () => {
    expect(all.filter((f) => SQL.test(f.text) && !mayHoldSql(f.path)).map((f) => f.path)).toEqual([]);
  });

  it('no file but a *-store.ts or one of src/storage imports better-sqlite3', () => {
    expect(all.filter((f) => SQLITE.test(f.text) && !mayHoldSql(f.path)).map((f) => f.path)).toEqual([]);
  });

  it('one INSERT INTO datapath_flow', () => {
    expect(all.filter((f) => /INSERT INTO datapath_flow\b/.test(f.text)).map((f) => f.path)).toEqual(['datapath-flows/datapath-flow-store.ts']);
  });
});
