// ndjsonLines on a body's bytes: a line that is not UTF-8 comes as why (by its number), every
// other line as its text, exactly as the body decoded whole would give it. Node's own isUtf8 is
// the judge of which lines are UTF-8 (overlong forms, surrogates, past U+10FFFF, cut sequences).
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { ndjsonLines } from '../../../src/ingest/ndjson';

const lineBytes = fc.oneof(
  fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a.filter((b) => b !== 0x0a))),
  fc.string({ unit: 'grapheme', maxLength: 8 }).map((s) => Buffer.from(s.replace(/\n/g, ''))),
  fc.constantFrom(...['c0af', 'e08080', 'eda080', 'f4908080', 'f0908d', 'e282ac', 'f09f9880', 'efbfbd', 'c3'].map((h) => Buffer.from(h, 'hex'))),
);

describe('ndjsonLines of bytes', () => {
  it('refuses the lines that are not UTF-8 by number and gives every other line as the decoded body would', () => {
    fc.assert(
      fc.property(fc.array(fc.array(lineBytes, { maxLength: 3 }).map((parts) => Buffer.concat(parts)), { minLength: 1, maxLength: 6 }), (lines) => {
        const body = Buffer.concat(lines.flatMap((l, i) => (i ? [Buffer.from('\n'), l] : [l])));
        const got = [...ndjsonLines(body)];
        const bad = new Set(lines.map((l, i) => (isUtf8(l) ? -1 : i + 1)).filter((n) => n > 0));
        expect(got.filter(([, l]) => typeof l !== 'string').map(([n]) => n)).toEqual([...bad]);
        for (const [, l] of got) if (typeof l !== 'string') expect(l.reason).toMatch(/^not UTF-8: byte \d+ \(0x[0-9a-f]{2}\) of the line/);
        // The good lines are those of the string path over the same lines.
        const good = lines.map((l, i) => (bad.has(i + 1) ? '' : l.toString('utf8'))).join('\n');
        expect(got.filter(([, l]) => typeof l === 'string')).toEqual([...ndjsonLines(good)]);
      }),
    );
  });

  it('names the first bad byte of the line, counted from 1', () => {
    expect([...ndjsonLines(Buffer.from('{"id":"ok"}\n{"id":"caf\xe9"}\n', 'latin1'))]).toEqual([
      [1, '{"id":"ok"}'],
      [2, { reason: 'not UTF-8: byte 11 (0xe9) of the line is not a UTF-8 sequence: send the lines as UTF-8' }],
    ]);
  });
});
