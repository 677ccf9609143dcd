// The shipper's binary COPY (src/storage/ship-sql.ts binaryCopy, copyData): rows read back from the
// bytes as PostgreSQL would parse them, and the values that must go the upsert's way instead.
import { binaryCopy, copyData } from '../../../src/storage/ship-sql';
import type { ShippedTable } from '../../../src/storage/spool';

type Kind = 'int8' | 'int4' | 'text' | 'bytea';

/** COPY's binary format, parsed: header, then per row a field count and length-prefixed fields, then -1. */
function parse(chunks: Buffer[], kinds: Kind[]): unknown[][] {
  const b = Buffer.concat(chunks);
  expect(b.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
  expect(b.readInt32BE(11)).toBe(0);
  expect(b.readInt32BE(15)).toBe(0);
  let pos = 19;
  const rows: unknown[][] = [];
  for (;;) {
    const n = b.readInt16BE(pos);
    pos += 2;
    if (n === -1) break;
    expect(n).toBe(kinds.length);
    const row: unknown[] = [];
    for (const k of kinds) {
      const len = b.readInt32BE(pos);
      pos += 4;
      if (len === -1) {
        row.push(null);
        continue;
      }
      const v = b.subarray(pos, pos + len);
      pos += len;
      row.push(k === 'int8' ? Number(v.readBigInt64BE(0)) : k === 'int4' ? v.readInt32BE(0) : k === 'text' ? v.toString('utf8') : Buffer.from(v));
    }
    rows.push(row);
  }
  expect(pos).toBe(b.length);
  return rows;
}

const table = (columns: string[]): ShippedTable => ({ name: 't', columns, key: [columns[0]] });

describe('binary COPY of shipped rows', () => {
  it('carries int8 (negative, past 32 bits, the largest safe id), int4, text (empty, UTF-8, escapes) and bytea, and NULLs', () => {
    const kinds: Kind[] = ['int8', 'int4', 'text', 'bytea'];
    const rows = [
      [2 ** 53 - 1, 2 ** 31 - 1, 'é\ttab\n"q"\\', Buffer.from([0, 255, 10])],
      [-1, -(2 ** 31), '', Buffer.alloc(0)],
      [-(2 ** 40) - 7, 0, null, null],
      [8191 * 2 ** 40 + 12345, 7, 'ascii', Buffer.from('x')],
      [null, null, '🙂 4-byte', Buffer.from([1])],
    ];
    expect(parse(binaryCopy(rows, kinds), kinds)).toEqual(rows);
  });

  it('a number in a text column goes as its decimal form, as in an array literal', () => {
    expect(parse(binaryCopy([[1, 42]], ['int8', 'text']), ['int8', 'text'])).toEqual([[1, '42']]);
  });

  it('rows past one buffer (1 MB) and a value bigger than one come back whole', () => {
    const big = 'x'.repeat(1_500_000);
    const rows = Array.from({ length: 3000 }, (_, i) => [i, i === 1500 ? big : `row ${i} `.repeat(60)]);
    const chunks = binaryCopy(rows, ['int8', 'text']);
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(parse(chunks, ['int8', 'text'])).toEqual(rows);
  });

  it('a type or a value binary COPY cannot carry as the upsert takes it gives null (the caller upserts)', () => {
    const t = table(['id', 'v']);
    expect(copyData(t, ['bigint', 'boolean'], [[1, true]])).toBeNull();
    expect(copyData(t, ['bigint', 'text'], [[1.5, 'a']])).toBeNull();
    expect(copyData(t, ['bigint', 'text'], [[1, Buffer.from('a')]])).toBeNull();
    expect(copyData(t, ['bigint', 'bytea'], [[1, 'not a buffer']])).toBeNull();
    expect(copyData(t, ['integer', 'text'], [[2 ** 31, 'a']])).toBeNull();
    expect(copyData(t, ['bigint', 'text'], [[1, 'a']])?.text).toBe('COPY "t" ("id", "v") FROM STDIN (FORMAT binary)');
  });
});
