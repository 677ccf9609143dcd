import * as fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  JsonMessageTooLargeError,
  JsonParseError,
  JsonSplitter,
  JsonStreamError,
  parseMessage,
} from '../../../src/ovsdb/json-stream';

import { capturedVersions } from '../../support/captured-model';

// One folder per OVS/OVN version (scripts/capture-ovsdb-fixtures.sh --pair PAIR).
const ROOT = join(__dirname, '../../fixtures/ovsdb');
const VERSIONS = capturedVersions(ROOT);
const fixturesOf = (version: string) =>
  readdirSync(join(ROOT, version))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((name) => ({ name, bytes: readFileSync(join(ROOT, version, name)) }));

function feed(splitter: JsonSplitter, chunks: Buffer[]): Buffer[] {
  return chunks.flatMap((c) => splitter.push(c));
}

function splitAt(buf: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points)].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of sorted) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

it('has ovsdb-server replies of every captured version', () => {
  expect(VERSIONS.length).toBeGreaterThanOrEqual(3);
});

describe.each(VERSIONS)('JsonSplitter on real ovsdb-server replies of %s', (version) => {
  const fixtures = fixturesOf(version);

  it('has the captured fixtures', () => {
    expect(fixtures.map((f) => f.name)).toEqual(
      expect.arrayContaining(['list_dbs.json', 'get_schema-nb.json', 'monitor_cond-nb.json', 'notification-update2.json']),
    );
  });

  it.each(fixtures.map((f) => [f.name, f.bytes] as const))('%s: one message, byte for byte, at every chunk boundary', (_name, bytes) => {
    for (let k = 0; k <= bytes.length; k++) {
      const s = new JsonSplitter();
      const out = feed(s, [bytes.subarray(0, k), bytes.subarray(k)]);
      if (out.length !== 1 || !out[0].equals(bytes)) {
        throw new Error(`split at byte ${k} of ${bytes.length} gave ${out.length} message(s)`);
      }
      expect(s.idle).toBe(true);
    }
    expect(parseMessage(bytes)).toEqual(JSON.parse(bytes.toString('utf8')));
  });

  it('splits the whole captured session, one byte at a time', () => {
    const stream = Buffer.concat(fixtures.flatMap((f, i) => [f.bytes, Buffer.from(i % 2 ? '\n' : '')]));
    const s = new JsonSplitter();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...s.push(stream.subarray(i, i + 1)));
    expect(out.map((b) => b.toString('utf8'))).toEqual(fixtures.map((f) => f.bytes.toString('utf8')));
  });

  it('splits the whole captured session at every boundary, many messages in one chunk', () => {
    const stream = Buffer.concat(fixtures.map((f) => f.bytes));
    for (let k = 0; k <= stream.length; k += 7) {
      const out = feed(new JsonSplitter(), [stream.subarray(0, k), stream.subarray(k)]);
      expect(out.length).toBe(fixtures.length);
    }
  });

  it('keeps UTF-8 characters intact when split inside them (the monitor reply has 2-, 3- and 4-byte characters)', () => {
    const mon = fixtures.find((f) => f.name === 'monitor_cond-nb.json')!.bytes;
    expect(mon.toString('utf8')).toContain('Zürich – 東京 – 🚀 façade');
    const rocket = mon.indexOf(Buffer.from('🚀'));
    for (let k = rocket; k <= rocket + 4; k++) {
      const [msg] = feed(new JsonSplitter(), [mon.subarray(0, k), mon.subarray(k)]);
      expect(parseMessage(msg)).toEqual(JSON.parse(mon.toString('utf8')));
    }
  });
});

describe('JsonSplitter on strings', () => {
  const tricky = [
    '{"a":"}"}',
    '{"a":"{{{[[["}',
    '{"a":"say \\"}\\" now"}',
    '{"a":"\\\\"}',
    '{"a":"\\\\\\"}"}',
    '["\\u007d",  "x"]',
    '{"match":"inport == \\"lsp1\\" && ip4.dst == {10.0.0.2, 10.0.0.3}"}',
  ];

  it.each(tricky)('%s at every boundary', (text) => {
    const bytes = Buffer.from(text);
    for (let k = 0; k <= bytes.length; k++) {
      const out = feed(new JsonSplitter(), [bytes.subarray(0, k), bytes.subarray(k)]);
      expect(out.map((b) => JSON.parse(b.toString()))).toEqual([JSON.parse(text)]);
    }
  });

  it('concatenated tricky messages split the same byte by byte', () => {
    const bytes = Buffer.from(tricky.join(''));
    const s = new JsonSplitter();
    const out = [...bytes].flatMap((b) => s.push(Buffer.from([b])));
    expect(out.map((b) => b.toString())).toEqual(tricky);
  });
});

describe('JsonSplitter on volume', () => {
  it('returns 10,000 messages pushed in one chunk', () => {
    const msgs = Array.from({ length: 10_000 }, (_, i) => JSON.stringify({ id: i, result: [`r{${i}}`] }));
    const out = new JsonSplitter().push(Buffer.from(msgs.join('')));
    expect(out.length).toBe(10_000);
    expect(out[9999].toString()).toBe(msgs[9999]);
  });

  it('joins one 8 MB message spread over 8,000 chunks with a single copy', () => {
    const rows: Record<string, unknown> = {};
    for (let i = 0; i < 40_000; i++) rows[`uuid-${i}`] = { initial: { name: `ls${i}`, ext: ['map', [['k', '{"}']]] } };
    const bytes = Buffer.from(JSON.stringify({ id: 1, result: rows, error: null }));
    const size = Math.ceil(bytes.length / 8000);
    const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
    const s = new JsonSplitter();
    const concat = jest.spyOn(Buffer, 'concat');
    try {
      const out = feed(s, chunks);
      expect(out.length).toBe(1);
      expect(out[0].equals(bytes)).toBe(true);
      expect(concat).toHaveBeenCalledTimes(1);
    } finally {
      concat.mockRestore();
    }
  });
});

describe('JsonSplitter on hostile input', () => {
  it('rejects garbage at top level with its offset', () => {
    const s = new JsonSplitter();
    expect(s.push(Buffer.from('{"id":1}  '))).toHaveLength(1);
    let err: unknown;
    try {
      s.push(Buffer.from(' x{}'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonStreamError);
    expect(err).toMatchObject({ kind: 'garbage', offset: 11 });
    expect((err as Error).message).toContain("'x' at offset 11");
    // framing is lost: the splitter stays failed
    expect(() => s.push(Buffer.from('{}'))).toThrow(JsonStreamError);
  });

  it('rejects a stray closing bracket and a top-level scalar', () => {
    expect(() => new JsonSplitter().push(Buffer.from('{}}'))).toThrow(expect.objectContaining({ kind: 'unbalanced', offset: 2 }));
    expect(() => new JsonSplitter().push(Buffer.from('42'))).toThrow(expect.objectContaining({ kind: 'garbage', offset: 0 }));
  });

  it('stops a depth bomb at the nesting limit, whatever the chunking', () => {
    const bomb = Buffer.alloc(1_000_000, '[');
    expect(() => new JsonSplitter({ maxDepth: 64 }).push(bomb)).toThrow(expect.objectContaining({ kind: 'too-deep', offset: 64 }));
    const s = new JsonSplitter();
    expect(() => feed(s, splitAt(bomb, [10, 100, 1000]))).toThrow(expect.objectContaining({ kind: 'too-deep', offset: 128 }));
  });

  it('names the size limit and the bytes seen, before the oversize message ends', () => {
    const s = new JsonSplitter({ maxMessageBytes: 1000 });
    s.push(Buffer.from('{"result":"' + 'a'.repeat(600)));
    let err: unknown;
    try {
      s.push(Buffer.from('b'.repeat(600)));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonMessageTooLargeError);
    expect(err).toMatchObject({ limit: 1000, bytesSeen: 1211 });
    expect((err as Error).message).toMatch(/limit of 1000 bytes \(1211 bytes seen/);
  });

  it('rejects an oversize message that arrives complete in one chunk', () => {
    const s = new JsonSplitter({ maxMessageBytes: 10 });
    expect(s.push(Buffer.from('{"a":12}'))).toHaveLength(1);
    expect(() => s.push(Buffer.from('{"a":"12345"}'))).toThrow(JsonMessageTooLargeError);
  });

  it('reports a stream that ends inside a message', () => {
    const s = new JsonSplitter();
    s.push(Buffer.from('{"id":1,"result":"{'));
    expect(() => s.end()).toThrow(expect.objectContaining({ kind: 'truncated' }));
  });

  it('reports a well-framed message that is not JSON as JsonParseError', () => {
    const [msg] = new JsonSplitter().push(Buffer.from('{id:1}'));
    expect(() => parseMessage(msg, 0)).toThrow(JsonParseError);
  });

  it('property: random bytes in random chunks only ever raise JsonStreamError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(400)), (bytes, points) => {
        const s = new JsonSplitter({ maxDepth: 16, maxMessageBytes: 200 });
        try {
          for (const chunk of splitAt(Buffer.from(bytes), points.filter((p) => p <= bytes.length))) s.push(chunk);
        } catch (e) {
          if (!(e instanceof JsonStreamError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('property: any JSON objects and arrays, concatenated and cut anywhere, come back whole and in order', () => {
    const message = fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.array(fc.jsonValue()));
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(5000)), fc.boolean(), (values, points, spaced) => {
        const texts = values.map((v) => JSON.stringify(v));
        const bytes = Buffer.from(texts.join(spaced ? ' \n' : ''));
        const out = feed(new JsonSplitter({ maxDepth: 1000 }), splitAt(bytes, points.filter((p) => p <= bytes.length)));
        expect(out.map((b) => b.toString('utf8'))).toEqual(texts);
      }),
      { numRuns: 500 },
    );
  });
});
