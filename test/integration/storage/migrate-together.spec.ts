// Several processes starting together on one SQLite file an older version wrote (api instances and an
// agent sharing a file on one host, or a restart while the old process still shuts down): each runs the
// migrations at start (migrateStore). Real processes on a real file, told to go at the same moment:
// one runs each migration, the others wait for the file's write lock and find nothing left to run; one
// that cannot have the lock in its bound fails its start naming the file and the holder's pid, the
// file left as it was.
import 'reflect-metadata';
import type Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../../src/storage/data-source.options';
import { spawnService } from '../../support/app';
import { MIGRATION_FILES, onSqliteFile } from '../../support/migrated-sqlite';
import { freePort } from '../../support/ports';
import { sqliteProcess } from '../../support/sqlite-process';
import { startStores, StoreStart, storeStarts } from '../../support/store-starts';

const files = MIGRATION_FILES;

/** The file as the version with only the first `upTo` migrations left it. */
async function oldFile(file: string, upTo: number): Promise<void> {
  const ds = new DataSource({ ...dataSourceOptions(file), migrations: files.slice(0, upTo), logging: false });
  await ds.initialize();
  try {
    await ds.runMigrations();
  } finally {
    await ds.destroy();
  }
}

const onFile = onSqliteFile;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const schema = (db: Database.Database) => db.prepare(`SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`).all();

describe('processes starting together on an old SQLite file', () => {
  let dir: string;
  let current: unknown[];
  let names: string[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'livetrace-migrate-together-'));
    const fresh = join(dir, 'fresh.sqlite');
    await oldFile(fresh, files.length);
    current = onFile(fresh, schema);
    names = onFile(fresh, (db) => (db.prepare('SELECT name FROM migrations ORDER BY id').all() as Array<{ name: string }>).map((r) => r.name));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([2, 3])('%i processes: each starts on the current schema, each migration run once, nothing lost', async (n) => {
    const file = join(dir, `old-${n}.sqlite`);
    // The second version's file (meta and the trace model), with rows in a table later migrations rebuild.
    await oldFile(file, 2);
    onFile(file, (db) => {
      db.prepare(`INSERT INTO meta (key, value) VALUES ('kept', 'yes')`).run();
      const ins = db.prepare(
        `INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source) VALUES ('hv1', ?, '2026-12-01T00:00:00.000Z', '2026-12-01T00:00:01.000Z', '0x0', 'in_port(1)', 'drop', 1, 64, 'dump')`,
      );
      for (let i = 0; i < 500; i++) ins.run(`ufid:${i}`);
    });

    const starts = await storeStarts(file, n);

    expect(starts.map((s) => ({ code: s.code, stderr: s.stderr }))).toEqual(Array(n).fill({ code: 0, stderr: '' }));
    for (const s of starts) expect(s.stdout).toContain(`started ${names.join(',')}`);
    // Every migration ran: each once in all, each once in its process's log.
    const ran = starts.flatMap((s) => [...s.stdout.matchAll(/Migration (\S+) has been executed successfully/g)].map((m) => m[1]));
    expect(ran.sort()).toEqual(names.slice(2).sort());
    onFile(file, (db) => {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(schema(db)).toEqual(current);
      expect(db.prepare(`SELECT value FROM meta WHERE key = 'kept'`).get()).toEqual({ value: 'yes' });
      expect(db.prepare(`SELECT count(*) AS n, count(DISTINCT ufid) AS u FROM datapath_flow`).get()).toEqual({ n: 500, u: 500 });
    });
  });

  /** An old file (the second version's) with a row to keep, and its migrations table's names. */
  async function oldWithRow(name: string): Promise<string> {
    const file = join(dir, name);
    await oldFile(file, 2);
    onFile(file, (db) => db.prepare(`INSERT INTO meta (key, value) VALUES ('kept', 'yes')`).run());
    return file;
  }
  const ranOn = (file: string) => onFile(file, (db) => (db.prepare('SELECT name FROM migrations ORDER BY id').all() as Array<{ name: string }>).map((r) => r.name));

  it('waits for a write lock held by another process, says who holds it, and migrates once it is let go', async () => {
    const file = await oldWithRow('held.sqlite');
    // An older process still shutting down, in the middle of a write.
    const holder = await sqliteProcess(file, `db.pragma('journal_mode = WAL'); db.exec('BEGIN IMMEDIATE'); console.log('ready'); process.stdin.on('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });`, 'ready');
    let starts: StoreStart[] = [];
    const letGo = async () => {
      holder.child.stdin!.end('done\n');
      await holder.exited;
    };
    try {
      const kids = await startStores(file, 2);
      while (!kids.every((k) => /waiting for its write lock/.test(k.out().stdout))) {
        expect(kids.map((k) => ({ code: k.out().code, stderr: k.out().stderr }))).toEqual([{ code: null, stderr: '' }, { code: null, stderr: '' }]);
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const k of kids) expect(k.out().stdout).toMatch(new RegExp(`${escape(file)}: waiting for its write lock to run the migrations \\(\\d+ s of at most 600 s\\): held by pid ${holder.child.pid} \\(`));
      await letGo();
      starts = await Promise.all(kids.map((k) => k.exited));
    } finally {
      if (holder.child.exitCode === null) await letGo();
    }
    expect(starts.map((s) => ({ code: s.code, stderr: s.stderr }))).toEqual([{ code: 0, stderr: '' }, { code: 0, stderr: '' }]);
    // One ran them all, the other read the migrations table again under the lock and found none left.
    const said = starts.map((s) => (/ran \d+ migrations after the wait|nothing left to run/.exec(s.stdout) ?? ['neither'])[0]).sort();
    expect(said).toEqual([`nothing left to run`, `ran ${names.length - 2} migrations after the wait`]);
    expect(ranOn(file)).toEqual(names);
    onFile(file, (db) => expect(db.prepare(`SELECT value FROM meta WHERE key = 'kept'`).get()).toEqual({ value: 'yes' }));
  });

  it('fails a start that cannot have the lock in its bound, naming the file and the holder, the file left as it was', async () => {
    const file = await oldWithRow('stuck.sqlite');
    const holder = await sqliteProcess(file, `db.pragma('journal_mode = WAL'); db.exec('BEGIN IMMEDIATE'); console.log('ready'); process.stdin.on('data', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });`, 'ready');
    try {
      const [start] = await storeStarts(file, 1, 1000);
      expect(start.code).toBe(1);
      // The holder's pid and command line (sqlite-process.ts runs it as node -e).
      const said = `start failed: ${file}: could not take its write lock to run the migrations in 1000 ms (LIVETRACE_SQLITE_MIGRATION_WAIT_MS): held by pid ${holder.child.pid} (${process.execPath} -e `;
      expect(start.stderr.slice(0, said.length)).toBe(said);
    } finally {
      holder.child.stdin!.end('done\n');
      await holder.exited;
    }
    expect(ranOn(file)).toEqual(names.slice(0, 2));
    onFile(file, (db) => expect(db.pragma('integrity_check', { simple: true })).toBe('ok'));
    // Let go, the next start migrates it.
    const [again] = await storeStarts(file, 1, 1000);
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: '' });
    expect(ranOn(file)).toEqual(names);
  });

  it('the service itself: a start that cannot have the lock exits, naming the file and the holder, and does not try again', async () => {
    const file = await oldWithRow('service.sqlite');
    const holder = await sqliteProcess(file, `db.pragma('journal_mode = WAL'); db.exec('BEGIN IMMEDIATE'); console.log('ready'); process.stdin.on('data', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });`, 'ready');
    try {
      const service = spawnService({ LIVETRACE_DB: file, LIVETRACE_ROLE: 'api', LIVETRACE_PORT: String(await freePort()), LIVETRACE_READ_WORKERS: '0', LIVETRACE_SQLITE_MIGRATION_WAIT_MS: '1000' });
      const { code } = await service.exit;
      const said = service.stdout() + service.stderr();
      expect(code).not.toBe(0);
      // Said of this file and this holder, and not tried again (Nest's TypeORM module tries ten times).
      expect(said).toContain(`${file}: could not take its write lock to run the migrations in 1000 ms (LIVETRACE_SQLITE_MIGRATION_WAIT_MS): held by pid ${holder.child.pid} (`);
      expect(said).not.toMatch(/Retrying \(1\)/);
    } finally {
      holder.child.stdin!.end('done\n');
      await holder.exited;
    }
    expect(ranOn(file)).toEqual(names.slice(0, 2));
  });
});
