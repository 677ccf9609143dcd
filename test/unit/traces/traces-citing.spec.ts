// tracesCiting remembers 'many' (a plan choice: both plans give the same answer) and nothing else:
// a ref's few citations are read again on every call, so a new citing trace shows at once.
import Database from 'better-sqlite3';
import { SqliteReader } from '../../../src/storage/sql';
import { tracesCiting } from '../../../src/traces/citation-store';

function reader() {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE trace_citation (kind INTEGER NOT NULL, ref INTEGER NOT NULL, bucket INTEGER NOT NULL, bits INTEGER NOT NULL, PRIMARY KEY (kind, ref, bucket)) WITHOUT ROWID');
  const q = new SqliteReader(db);
  let statements = 0;
  const rows = q.rows.bind(q);
  q.rows = ((sql: string, ...params: unknown[]) => (statements++, rows(sql, ...params))) as typeof q.rows;
  const cite = (ref: number, bucket: number, bits: number) =>
    db.prepare('INSERT INTO trace_citation VALUES (0, ?, ?, ?) ON CONFLICT DO UPDATE SET bits = bits | excluded.bits').run(ref, bucket, bits);
  return { q, db, cite, statements: () => statements };
}

describe('tracesCiting', () => {
  it('lists a few citing traces, and reads them again on the next call (a new citation shows)', async () => {
    const r = reader();
    r.cite(7, 0, 0b110);
    expect(await tracesCiting(r.q, 0, [7], 100)).toEqual([1, 2]);
    r.cite(7, 1, 1);
    expect(await tracesCiting(r.q, 0, [7], 100)).toEqual([1, 2, 32]);
    expect(r.statements()).toBe(2);
  });

  it("remembers 'many' for the same refs on the same reader: no statement the second time", async () => {
    const r = reader();
    for (let b = 0; b < 10; b++) r.cite(7, b, 0xffffffff); // 320 citations
    r.cite(8, 0, 1);
    expect(await tracesCiting(r.q, 0, [7], 100)).toBe('many');
    const after = r.statements();
    expect(await tracesCiting(r.q, 0, [7], 100)).toBe('many');
    expect(r.statements()).toBe(after);
    // Other refs, another threshold or another reader are read.
    expect(await tracesCiting(r.q, 0, [8], 100)).toEqual([0]);
    expect(await tracesCiting(r.q, 0, [7], 1000)).toHaveLength(320);
    const other = reader();
    other.cite(7, 0, 1);
    expect(await tracesCiting(other.q, 0, [7], 100)).toEqual([0]);
  });
});
