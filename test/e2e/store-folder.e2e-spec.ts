// Where LIVETRACE_DB (or, with PostgreSQL, LIVETRACE_SPOOL) cannot be written, the service stops at
// once naming the key, the path and why, with EX_CONFIG: before, TypeORM tried to open the file ten
// times over ~30 s, each "SqliteError: unable to open database file", and the process exited 1 naming
// neither. No OVS/OVN daemon is needed: the start stops before any is asked for.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { daemonlessEnv, spawnService } from '../support/app';

jest.setTimeout(120_000);

// root writes any folder: the service runs with file modes applying to it (spawnService modesApply).
const modesApply = { modesApply: true };

const made: string[] = [];
function folder(): string {
  const dir = mkdtempSync(join('/tmp', 'livetrace-store-folder-'));
  chmodSync(dir, 0o755);
  made.push(dir);
  return dir;
}
afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('a store folder the service cannot write', () => {
  it('a read-only LIVETRACE_DB folder: exit 78 naming the key and the folder', async () => {
    const ro = join(folder(), 'ro');
    mkdirSync(ro, { mode: 0o555 });
    chmodSync(ro, 0o555);
    const db = join(ro, 'livetrace.sqlite');
    const child = spawnService(daemonlessEnv({ LIVETRACE_DB: db }), modesApply);
    const { code } = await child.exit;
    expect(child.stderr()).toContain(`LIVETRACE_DB="${db}"`);
    expect(child.stderr()).toMatch(new RegExp(`folder ${ro} is not writable`));
    expect(code).toBe(78);
  });

  it('a LIVETRACE_DB under a file: exit 78 naming the key and why the folder cannot be made', async () => {
    const file = join(folder(), 'not-a-folder');
    writeFileSync(file, '');
    const db = join(file, 'livetrace.sqlite');
    const child = spawnService(daemonlessEnv({ LIVETRACE_DB: db }));
    const { code } = await child.exit;
    expect(child.stderr()).toContain(`LIVETRACE_DB="${db}"`);
    expect(child.stderr()).toContain(`cannot create its folder ${file}: a part of it is a file, not a folder`);
    expect(code).toBe(78);
  });

  it('a database file it may not write: exit 78 naming the file', async () => {
    const dir = folder();
    chmodSync(dir, 0o777);
    const db = join(dir, 'livetrace.sqlite');
    writeFileSync(db, '');
    chmodSync(db, 0o444);
    const child = spawnService(daemonlessEnv({ LIVETRACE_DB: db }), modesApply);
    const { code } = await child.exit;
    expect(child.stderr()).toContain(`LIVETRACE_DB="${db}"`);
    expect(child.stderr()).toMatch(/not readable and writable/);
    expect(code).toBe(78);
  });

  it('a LIVETRACE_DB that is a folder: exit 78 saying a file is expected', async () => {
    const dir = folder();
    const child = spawnService(daemonlessEnv({ LIVETRACE_DB: dir }));
    const { code } = await child.exit;
    expect(child.stderr()).toContain(`LIVETRACE_DB="${dir}": is a folder`);
    expect(code).toBe(78);
  });

  it('with PostgreSQL, names LIVETRACE_SPOOL, checked before PostgreSQL is asked for anything', async () => {
    const ro = join(folder(), 'ro');
    mkdirSync(ro, { mode: 0o555 });
    chmodSync(ro, 0o555);
    const spool = join(ro, 'spool.sqlite');
    const child = spawnService(daemonlessEnv({ LIVETRACE_DB: 'postgres://livetrace@127.0.0.1:1/none', LIVETRACE_SPOOL: spool }), modesApply);
    const { code } = await child.exit;
    expect(child.stderr()).toContain(`LIVETRACE_SPOOL="${spool}"`);
    expect(code).toBe(78);
  });
});
