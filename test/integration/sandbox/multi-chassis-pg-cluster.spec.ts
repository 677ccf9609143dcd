// scripts/pg-cluster: the PostgreSQL the several-chassis set-up (issue 19) will share. Skipped where
// Debian's postgresql is not installed (`make debs-pg`; `make test` does not install it yet).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

jest.setTimeout(120_000);
const run = promisify(execFile);
const SCRIPT = resolve(__dirname, '../../../scripts/pg-cluster');
const installed = existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));

const pg = async (...args: string[]) => (await run(SCRIPT, args)).stdout.trim();
const psql = async (url: string, sql: string) => (await run('psql', ['-X', '-q', '-tA', url, '-c', sql])).stdout.trim();

(installed ? describe : describe.skip)('pg-cluster', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'livetrace-pg-'));
  });

  afterAll(async () => {
    if (!dir) return;
    await run(SCRIPT, ['stop', dir]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts a cluster of its own, not as root, and prints a URL psql connects to', async () => {
    const url = await pg('start', dir);
    expect(url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/livetrace$/);
    expect(await pg('url', dir)).toBe(url);
    await psql(url, 'create table t (v int); insert into t values (42)');
    expect(await psql(url, 'select v from t')).toBe('42');
    // PostgreSQL refuses root: the postmaster (first line of postmaster.pid) runs as another user.
    const pid = readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0];
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
    expect(uid).not.toBe('0');
  });

  it('is idempotent: a second start leaves the running cluster and its data as they are', async () => {
    const url = await pg('url', dir);
    expect(await pg('start', dir)).toBe(url);
    expect(await psql(url, 'select v from t')).toBe('42');
  });

  it('stops (twice without error) and starts again on the same port with the data kept', async () => {
    const url = await pg('url', dir);
    await pg('stop', dir);
    await pg('stop', dir);
    expect(await pg('status', dir)).toBe('stopped');
    await expect(psql(url, 'select 1')).rejects.toThrow();
    expect(await pg('start', dir)).toBe(url);
    expect(await psql(url, 'select v from t')).toBe('42');
  });

  it('says what is wrong when the folder is closed to the postgres user', async () => {
    const closed = mkdtempSync(join(tmpdir(), 'livetrace-pg-closed-')); // 0700, owned by root
    try {
      if (process.getuid?.() !== 0) return; // only root hands the cluster to postgres
      await expect(pg('start', join(closed, 'c'))).rejects.toThrow(/not writable by the postgres user/);
    } finally {
      rmSync(closed, { recursive: true, force: true });
    }
  });
});
