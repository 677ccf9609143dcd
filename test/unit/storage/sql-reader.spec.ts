// SqliteReader (src/storage/sql.ts) builds its row objects from raw rows itself (bench/api/
// RESULTS-postgres.md, stop 20): every answer built from `all` and `get` must stay what
// better-sqlite3's own objects gave, keys, order and values, the corner cases included.
import Database from 'better-sqlite3';
import { SqliteReader } from '../../../src/storage/sql';

let db: Database.Database;
let reader: SqliteReader;

/** What better-sqlite3 itself returns for the statement, as objects. */
const own = (sql: string, ...params: unknown[]) => db.prepare(sql).all(...params);

beforeEach(() => {
  db = new Database(':memory:');
  db.exec(`CREATE TABLE flow (id INTEGER PRIMARY KEY, ufid TEXT NOT NULL, packets INTEGER, used TEXT, blob BLOB);
    INSERT INTO flow VALUES (1, 'a', 10, NULL, x'0102'), (2, 'b', 20, '2026-12-05T00:00:00Z', NULL), (3, 'c', NULL, NULL, NULL);
    CREATE TABLE trace (id INTEGER PRIMARY KEY, flow_id INTEGER, verdict TEXT);
    INSERT INTO trace VALUES (7, 1, '{"kinds":["output"]}'), (8, 2, '{}');`);
  reader = new SqliteReader(db);
});

afterEach(() => db.close());

it('gives the same objects as better-sqlite3: keys in column order, NULLs, integers, blobs', async () => {
  const sql = 'SELECT * FROM flow WHERE id >= ? ORDER BY id DESC';
  const rows = await reader.all(sql, 1);
  expect(rows).toEqual(own(sql, 1));
  expect(rows.map((r) => Object.keys(r as object))).toEqual(own(sql, 1).map((r) => Object.keys(r as object)));
  expect(JSON.stringify(rows)).toBe(JSON.stringify(own(sql, 1)));
});

it('keeps a repeated column name once, in its first place, with the last value, as better-sqlite3 does', async () => {
  const sql = 'SELECT t.id, f.ufid, f.id FROM trace t JOIN flow f ON f.id = t.flow_id ORDER BY t.id';
  const rows = await reader.all(sql);
  expect(JSON.stringify(rows)).toBe(JSON.stringify(own(sql)));
  expect(rows[0]).toEqual({ id: 1, ufid: 'a' });
});

it('get: the first row as an object, undefined when there is none', async () => {
  expect(await reader.get('SELECT id, used FROM flow WHERE id = ?', 2)).toEqual(db.prepare('SELECT id, used FROM flow WHERE id = ?').get(2));
  expect(await reader.get('SELECT id FROM flow WHERE id = ?', 99)).toBeUndefined();
  expect(await reader.all('SELECT id FROM flow WHERE id = ?', 99)).toEqual([]);
});

it('a statement read raw (rows) and as objects (all) keeps both shapes', async () => {
  const sql = 'SELECT id, ufid FROM flow ORDER BY id';
  expect(await reader.rows(sql)).toEqual([
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
  ]);
  expect(await reader.all(sql)).toEqual(own(sql));
  expect(await reader.rows(sql)).toEqual([
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
  ]);
});

it('a `*` statement after a column was added gives the new column (its names are read again)', async () => {
  const sql = 'SELECT * FROM trace ORDER BY id';
  expect(Object.keys((await reader.all(sql))[0] as object)).toEqual(['id', 'flow_id', 'verdict']);
  db.exec(`ALTER TABLE trace ADD COLUMN path_id INTEGER DEFAULT 5`);
  const rows = await reader.all(sql);
  expect(rows).toEqual(own(sql));
  expect(rows[0]).toEqual({ id: 7, flow_id: 1, verdict: '{"kinds":["output"]}', path_id: 5 });
});
