import * as fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { ConnectionClosedError, ProtocolError } from '../../../src/ovsdb/errors';
import { JsonMessageTooLargeError, JsonSplitter, JsonSplitterOptions } from '../../../src/ovsdb/json-stream';
import { JsonRpcConnection } from '../../../src/ovsdb/jsonrpc';
import { capturedVersions } from '../../support/captured-model';

// Row streaming (JsonSplitter.armRows): real ovsdb-server replies, cut at every boundary, must give
// back exactly JSON.parse of the whole reply once the streamed rows are put back in the skeleton.
// The replies of every captured OVS/OVN version (test/fixtures/ovsdb/<version>/).
const ROOT = join(__dirname, '../../fixtures/ovsdb');
const VERSIONS = capturedVersions(ROOT);
const replies = (version: string) => ({
  since: readFileSync(join(ROOT, version, 'monitor_cond_since-nb.json')), // {"id":5,"result":[false,txn,{T:{U:R}}]…}
  cond: readFileSync(join(ROOT, version, 'monitor_cond-nb.json')), // {"id":4,"result":{T:{U:R}}…}
  notification: readFileSync(join(ROOT, version, 'notification-update3.json')),
});

interface Streamed {
  messages: unknown[];
  batches: Array<{ id: number; key: string; rows: Record<string, unknown> }>;
}

function run(chunks: Buffer[], arm: Array<[number, number]>, options: JsonSplitterOptions = {}): Streamed {
  const s = new JsonSplitter(options);
  const batches: Streamed['batches'] = [];
  for (const [id, depth] of arm) s.armRows(id, depth, (rid, key, members) => batches.push({ id: rid, key, rows: JSON.parse(`{${members.toString('utf8')}}`) }));
  const messages = chunks.flatMap((c) => s.push(c)).map((b) => JSON.parse(b.toString('utf8')));
  expect(s.idle).toBe(true);
  return { messages, batches };
}

/** Puts streamed rows back where they came from: the tables of result (depth 4) or result[2] (depth 5). */
function reassemble(message: unknown, batches: Streamed['batches'], depth: number): unknown {
  const msg = message as { result: unknown };
  const updates = (depth === 5 ? (msg.result as unknown[])[2] : msg.result) as Record<string, Record<string, unknown>>;
  for (const b of batches) Object.assign(updates[b.key], b.rows);
  return msg;
}

function tables(reply: Buffer, depth: number): string[] {
  const r = JSON.parse(reply.toString('utf8')).result;
  return Object.keys(depth === 5 ? r[2] : r);
}

describe.each(VERSIONS)('JsonSplitter row streaming on real ovsdb-server monitor replies of %s', (version) => {
  const { since, cond, notification } = replies(version);

  it.each([
    ['monitor_cond_since', since, 5, 5],
    ['monitor_cond', cond, 4, 4],
  ] as const)('%s: rows stream out, the skeleton keeps empty tables, at every chunk boundary', (_m, reply, id, depth) => {
    const whole = JSON.parse(reply.toString('utf8'));
    for (let k = 0; k <= reply.length; k++) {
      const { messages, batches } = run([reply.subarray(0, k), reply.subarray(k)], [[id, depth]]);
      expect(messages).toHaveLength(1);
      expect(batches.every((b) => b.id === id)).toBe(true);
      const skeleton = (depth === 5 ? (messages[0] as { result: unknown[] }).result[2] : (messages[0] as { result: unknown }).result) as Record<string, object>;
      expect(Object.keys(skeleton)).toEqual(tables(reply, depth));
      expect(Object.values(skeleton).every((t) => Object.keys(t).length === 0)).toBe(true);
      if (!isEqual(reassemble(messages[0], batches, depth), whole)) throw new Error(`reply cut at byte ${k} of ${reply.length} did not reassemble`);
    }
  });

  it('streams one byte at a time (every key, string and UTF-8 character split)', () => {
    const bytes = [...since].map((b) => Buffer.from([b]));
    const { messages, batches } = run(bytes, [[5, 5]]);
    expect(reassemble(messages[0], batches, 5)).toEqual(JSON.parse(since.toString('utf8')));
    const names = Object.values(batches).flatMap((b) => Object.values(b.rows)).map((r) => JSON.stringify(r));
    expect(names.join('')).toContain('Zürich – 東京 – 🚀 façade');
  });

  it('property: random chunkings reassemble to the whole reply', () => {
    const whole = JSON.parse(since.toString('utf8'));
    fc.assert(
      fc.property(fc.array(fc.nat(since.length), { maxLength: 40 }), (points) => {
        const cuts = [...new Set(points)].sort((a, b) => a - b);
        const chunks = cuts.map((p, i) => since.subarray(i ? cuts[i - 1] : 0, p)).concat(since.subarray(cuts.at(-1) ?? 0));
        const { messages, batches } = run(chunks, [[5, 5]]);
        return isEqual(reassemble(messages[0], batches, 5), whole);
      }),
      { numRuns: 200 },
    );
  });

  it('leaves other messages whole: notifications around the reply, an unarmed id, a reply with "id" last', () => {
    const stream = Buffer.concat([notification, since, notification, cond]);
    const { messages, batches } = run([stream], [[5, 5]]);
    expect(messages).toHaveLength(4);
    expect(messages[0]).toEqual(JSON.parse(notification.toString()));
    expect(messages[2]).toEqual(JSON.parse(notification.toString()));
    expect(messages[3]).toEqual(JSON.parse(cond.toString())); // id 4 was not armed
    expect(new Set(batches.map((b) => b.id))).toEqual(new Set([5]));

    const reordered = Buffer.from(JSON.stringify({ result: JSON.parse(cond.toString()).result, error: null, id: 4 }));
    const r = run([reordered], [[4, 4]]);
    expect(r.batches).toEqual([]);
    expect(r.messages[0]).toEqual(JSON.parse(reordered.toString()));
  });

  it('disarms after the reply: the same id again is delivered whole', () => {
    const s = new JsonSplitter();
    let n = 0;
    s.armRows(5, 5, () => n++);
    s.push(since);
    const seen = n;
    expect(seen).toBeGreaterThan(0);
    const [again] = s.push(since);
    expect(n).toBe(seen);
    expect(again.equals(since)).toBe(true);
  });

  it('keeps rows whose strings hold braces, quotes and escapes, and keys with escapes', () => {
    const rows = { 'u-1': { initial: { match: 'a == "}" && b == {1, 2}', x: ['map', [['k"}', '\\"']]] } }, 'u\\2': { initial: { y: '{[' } } };
    const reply = Buffer.from(JSON.stringify({ id: 9, result: [false, 'txn', { 'T"x': rows, Empty: {} }], error: null }));
    for (let k = 0; k <= reply.length; k++) {
      const { messages, batches } = run([reply.subarray(0, k), reply.subarray(k)], [[9, 5]]);
      expect(batches.every((b) => b.key === 'T"x')).toBe(true);
      expect(reassemble(messages[0], batches, 5)).toEqual(JSON.parse(reply.toString()));
    }
  });

  it('counts streamed rows against the message size limit', () => {
    const s = new JsonSplitter({ maxMessageBytes: 1500 });
    s.armRows(5, 5, () => undefined);
    const chunks = Array.from({ length: Math.ceil(since.length / 100) }, (_, i) => since.subarray(i * 100, (i + 1) * 100));
    expect(since.length).toBeGreaterThan(1500);
    expect(() => chunks.forEach((c) => s.push(c))).toThrow(JsonMessageTooLargeError);
  });
});

describe.each(VERSIONS)('JsonRpcConnection with streamed rows (%s replies)', (version) => {
  const { since } = replies(version);

  class Wire extends Duplex {
    written: string[] = [];
    override _read(): void {}
    override _write(chunk: Buffer, _enc: string, cb: () => void): void {
      this.written.push(chunk.toString());
      cb();
    }
  }

  it('hands rows over as they arrive and resolves with the skeleton', async () => {
    const wire = new Wire();
    const conn = new JsonRpcConnection(wire, { remote: 'unix:/fake' });
    const got: Record<string, Record<string, unknown>> = {};
    const p = conn.request('monitor_cond_since', [], { rows: { depth: 5, onRows: (t, rows) => Object.assign((got[t] ??= {}), rows) } });
    const id = JSON.parse(wire.written[0]).id as number;
    const reply = Buffer.from(since.toString().replace('"id":5', `"id":${id}`));
    for (let i = 0; i < reply.length; i += 500) wire.push(reply.subarray(i, i + 500));
    const result = (await p) as unknown[];
    const whole = JSON.parse(reply.toString()).result;
    expect(Object.keys(got).sort()).toEqual(Object.keys(whole[2]).filter((t) => Object.keys(whole[2][t]).length > 0).sort());
    for (const t of Object.keys(got)) expect(got[t]).toEqual(whole[2][t]);
    expect(result[0]).toBe(false);
    conn.close();
  });

  it('closes with a protocol error naming the table when streamed rows are not JSON', async () => {
    const wire = new Wire();
    const conn = new JsonRpcConnection(wire, { remote: 'unix:/fake' });
    const p = conn.request('monitor_cond_since', [], { rows: { depth: 5, onRows: () => undefined } });
    const closed = new Promise((resolve) => conn.once('close', resolve));
    wire.push(Buffer.from('{"id":1,"result":[false,"t",{"Logical_Flow":{"u1":{"initial":{"a":tru}}}}],"error":null}'));
    await expect(p).rejects.toBeInstanceOf(ConnectionClosedError);
    const reason = await closed;
    expect(reason).toBeInstanceOf(ProtocolError);
    expect(String((reason as Error).message)).toMatch(/"Logical_Flow" members of the reply to monitor_cond_since/);
  });
});

function isEqual(a: unknown, b: unknown): boolean {
  try {
    expect(a).toEqual(b);
    return true;
  } catch {
    return false;
  }
}
