// CitationBatch.flush ORs a transaction's citations into trace_citation many rows a statement: every
// (kind, ref, trace) added is stored once, whatever the count of rows (a whole statement's and the
// rest), and a bucket written by an earlier transaction keeps its bits (the upsert ORs them).
import Database from 'better-sqlite3';
import { allCitations, CitationBatch } from '../../../src/traces/citation-store';
import { Statements, type WriteContext } from '../../../src/storage/writer';

function store() {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE trace_citation (kind INTEGER NOT NULL, ref INTEGER NOT NULL, bucket INTEGER NOT NULL, bits INTEGER NOT NULL, PRIMARY KEY (kind, ref, bucket)) WITHOUT ROWID');
  const statements = new Statements(db);
  const tx = { stmt: (sql: string) => statements.get(sql) } as WriteContext;
  return { db, tx };
}

describe('CitationBatch.flush', () => {
  it.each([1, 63, 64, 65, 200, 1000])('stores %i citation rows, each bit once, with the bits of earlier transactions', (n) => {
    const { db, tx } = store();
    const want = new Set<string>();
    const add = (b: CitationBatch, kind: number, ref: number, trace: number) => {
      b.add(kind, ref, trace);
      want.add(`${kind},${ref},${trace}`);
    };
    // An earlier transaction: one trace of every bucket the next one writes.
    const first = new CitationBatch();
    for (let i = 0; i < n; i++) add(first, i % 2, 1 + (i >> 1), 64 + 32 * (i % 3));
    first.flush(tx);
    const second = new CitationBatch();
    for (let i = 0; i < n; i++) for (const t of [65 + 32 * (i % 3), 95 + 32 * (i % 3)]) add(second, i % 2, 1 + (i >> 1), t);
    second.flush(tx);
    const got = allCitations(db).map(([k, r, t]) => `${k},${r},${t}`);
    expect(got.length).toBe(want.size);
    expect(new Set(got)).toEqual(want);
    expect((db.prepare('SELECT COUNT(*) AS n FROM trace_citation').get() as { n: number }).n).toBe(n);
  });
});
