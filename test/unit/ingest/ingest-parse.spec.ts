import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { EVENT_SCHEMA } from '../../../src/ingest/event-schema';
import { parseEventLines } from '../../../src/ingest/ndjson';
import { parseRetis, retisUfid } from '../../../src/ingest/retis-adapter';
import { passOfTranslation } from '../../../src/ingest/translation';

const RETIS = readFileSync(join(__dirname, '../../fixtures/documented/retis/events.json'), 'utf8');
const TRACE = readFileSync(join(__dirname, '../../fixtures/documented/retis/c3eaf764-0b75-4369-bd29-5dd907c66fb9.trace.txt'), 'utf8');
const T = '2026-11-27T05:21:55.633Z';
const UFID = '29330e32-048b-4506-9eb9-3cabbdaf82c2';

describe('v1 NDJSON lines', () => {
  it('accepts every event type and rejects each bad line with its number and a reason naming the field', () => {
    const lines = [
      { type: 'upcall', id: 'u1', time: T, upcallType: 'miss', key: 'recirc_id(0),in_port(4),eth_type(0x0800)', thread: 'handler1' },
      { type: 'ukey_created', id: 'c1', time: T, ufid: UFID, key: 'recirc_id(0),in_port(4)', actions: 'drop' },
      { type: 'ukey_updated', id: 'd1', time: T, ufid: UFID, packets: 3, bytes: 294 },
      { type: 'ukey_revalidated', id: 'r1', time: T, ufid: UFID, result: 'DELETE', reason: 'FLOW_IDLE' },
      { type: 'ukey_removed', id: 'x1', time: T, ufid: UFID },
      { type: 'translation', id: 't1', time: T, ufid: UFID, steps: [{ table: 0, priority: 100, cookie: '0x7dc86602', match: 'ip', actions: 'resubmit(,8)' }] },
      { type: 'translation', id: 't2', time: T, text: TRACE },
    ].map((e) => JSON.stringify(e));
    const bad = [
      '{not json',
      JSON.stringify({ type: 'upcall', id: 'u2', time: 'yesterday' }),
      JSON.stringify({ type: 'ukey_revalidated', id: 'r2', time: T, ufid: UFID, result: 'KEEP', reason: 'BORED' }),
      JSON.stringify({ type: 'ukey_created', id: 'c2', time: T, ufid: UFID.toUpperCase(), key: 'k', actions: 'a' }),
      JSON.stringify({ type: 'flow_add', id: 'z', time: T }),
      JSON.stringify({ type: 'translation', id: 't3', time: T }),
      JSON.stringify({ type: 'upcall', id: 'u3', time: T, colour: 'blue' }),
      JSON.stringify([1, 2]),
      JSON.stringify({ type: 'upcall', id: 'u\u00004', time: T }),
    ];
    const r = parseEventLines([...lines, '', ...bad].join('\n') + '\n');
    expect(r.events.map((e) => e.event.id)).toEqual(['u1', 'c1', 'd1', 'r1', 'x1', 't1', 't2']);
    expect(r.rejected.map((x) => x.line)).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17]);
    const reasons = r.rejected.map((x) => x.reason);
    expect(reasons[0]).toMatch(/^not JSON/);
    expect(reasons[1]).toMatch(/^time: must be an RFC 3339 time/);
    expect(reasons[2]).toMatch(/^reason: must be one of .*FLOW_IDLE/);
    expect(reasons[3]).toMatch(/^ufid: must be a full lower-case UUID/);
    expect(reasons[4]).toMatch(/^type: must be one of upcall, ukey_created/);
    expect(reasons[5]).toMatch(/needs text or steps/);
    expect(reasons[6]).toBe('colour: is not a field of this event type');
    expect(reasons[7]).toBe('must be a JSON object');
    // PostgreSQL's text cannot hold a NUL (the shipper would turn it into U+FFFD, merging keys).
    expect(reasons[8]).toBe('id: must not contain U+0000 (NUL) (at character 1)');
  });

  it('rejects a line that names a field twice in one object, naming it, and keeps the rest (review: JSON.parse kept the last)', () => {
    const ok = JSON.stringify({ type: 'upcall', id: 'u1', time: T, key: 'a "type":"x" inside a value' });
    const steps = (inner: string) => `{"type":"translation","id":"t1","time":"${T}","steps":[{"table":0},{${inner}}]}`;
    const r = parseEventLines(
      [
        `{"type":"upcall","type":"ukey_removed","id":"u2","time":"${T}","ufid":"${UFID}"}`,
        ok,
        `{"type":"upcall","typ\\u0065":"ukey_removed","id":"u3","time":"${T}"}`, // the same name, escaped
        steps('"table":1,"priority":5,"table":2'),
        steps('"table":1,"priority":5'), // the same name in two objects is no repeat
        `{"type":"upcall","id":"u4","time":"${T}","id":"u5"}`,
      ].join('\n'),
    );
    expect(r.events.map((e) => e.event.id)).toEqual(['u1', 't1']);
    expect(r.rejected).toEqual([
      { line: 1, reason: 'type: given twice in one object (a field is given once)' },
      { line: 3, reason: 'type: given twice in one object (a field is given once)' },
      { line: 4, reason: 'steps[1].table: given twice in one object (a field is given once)' },
      { line: 6, reason: 'id: given twice in one object (a field is given once)' },
    ]);
  });

  // Review of c60700c: the repeat check compared each name with every earlier one of its object, so
  // a line of 200k names (1.7 MB, under the line bound) held the event loop for about 95 s, where
  // JSON.parse itself takes 0.4 s. Run in a worker so that the test's timeout can end it: without
  // the fix it fails by that timeout, not by a measured time.
  it('checks an object of many names in one pass, finding the repeat at its end', async () => {
    const names = Array.from({ length: 200_000 }, (_, i) => `"n${i.toString(36)}":0`);
    const line = `{"type":"upcall","id":"u1","time":"${T}","extra":{${names.join(',')},"n0":1}}`;
    const worker = (checking = new Worker(
      `require('ts-node').register({ transpileOnly: true, project: ${JSON.stringify(join(__dirname, '../../../tsconfig.json'))} });
       const { parentPort, workerData } = require('node:worker_threads');
       parentPort.postMessage(require(workerData.module).parseJsonLine(workerData.line));`,
      { eval: true, workerData: { line, module: join(__dirname, '../../../src/ingest/ndjson.ts') } },
    ));
    const r = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    expect(r).toEqual({ reason: 'extra.n0: given twice in one object (a field is given once)' });
  }, 30_000);
  let checking: Worker | undefined;
  // Ended here too when the timeout failed the test: the worker is still comparing names.
  afterEach(async () => void (await checking?.terminate(), (checking = undefined)));

  it('publishes one schema branch per event type', () => {
    expect(EVENT_SCHEMA.oneOf.map((b) => b.title)).toEqual(['upcall', 'ukey_created', 'ukey_updated', 'ukey_revalidated', 'ukey_removed', 'translation']);
  });

  it('turns raw ofproto/trace text and rule steps into passes the annotator takes', () => {
    const text = passOfTranslation({ type: 'translation', id: 't', time: T, text: TRACE });
    expect('pass' in text && text.pass.steps.length).toBeGreaterThan(5);
    expect('pass' in text && text.pass.datapathActions).toBe('ct(zone=1),recirc(0x1)');
    const steps = passOfTranslation({ type: 'translation', id: 't', time: T, steps: [{ table: 8, cookie: '0x7dc86602', match: 'ip' }], datapathActions: '3' });
    expect('pass' in steps && steps.pass.steps[0]).toMatchObject({ table: 8, cookie: '0x7dc86602', outcome: 'match' });
    expect(passOfTranslation({ type: 'translation', id: 't', time: T, text: 'hello' })).toEqual({ reason: expect.stringMatching(/^text: .*expected "Flow: "/) });
    expect(passOfTranslation({ type: 'translation', id: 't', time: T, text: 'no recirculation data for recirc_id 0x5' })).toEqual({ reason: expect.stringMatching(/refused/) });
  });
});

describe('retis adapter (events written from the documented format)', () => {
  it('gathers one upcall from its kernel, enqueue, userspace and execute events by queue_id', () => {
    const r = parseRetis(RETIS, { now: 0 });
    expect(r.rejected).toEqual([]);
    const upcalls = r.events.filter((e) => e.event.type === 'upcall').map((e) => e.event);
    expect(upcalls).toEqual([
      expect.objectContaining({
        type: 'upcall',
        source: 'retis',
        upcallType: 'miss',
        queueId: 2809249329,
        installed: true,
        thread: 'handler9',
        packet: 'icmp 10.0.0.1 > 10.0.0.2 type 8 code 0',
        datapathActions: 'ct(zone=1),recirc(0x1)',
      }),
    ]);
    // monotonic ns + the startup offset
    expect(upcalls[0].time).toBe(new Date(1795557000250 + 202388856791511 / 1e6).toISOString());
  });

  it('makes each ovs-detrace section a datapath flow and its translation, and each looked-up UFID alive', () => {
    const r = parseRetis(RETIS, { now: 0 });
    const byType = (t: string) => r.events.filter((e) => e.event.type === t).map((e) => e.event as never as Record<string, unknown>);
    expect(byType('ukey_created').map((e) => [e.ufid, e.actions])).toEqual([
      ['c3eaf764-0b75-4369-bd29-5dd907c66fb9', 'ct(zone=1),recirc(0x1)'],
      ['a41ad08f-23ba-4c34-97b8-6082b6539265', 'ct(commit,zone=1,mark=0/0x1,nat(src)),ct(zone=4),recirc(0x2)'],
      ['cd3a57a3-1163-4a62-b947-50c8b07b6ea5', 'ct(commit,zone=4,mark=0/0x1,nat(src)),3'],
    ]);
    const xl = byType('translation');
    expect(xl).toHaveLength(3);
    expect((xl[0].steps as unknown[]).length).toBe(readFileSync(join(__dirname, "../../fixtures/documented/retis/ofpflows/c3eaf764-0b75-4369-bd29-5dd907c66fb9.txt"), "utf8").trim().split("\n").length);
    expect(byType('ukey_updated')).toHaveLength(3);
    expect(r.ignored).toBeGreaterThan(0);
  });

  it('reads UFIDs as retis prints them from their four words', () => {
    expect(retisUfid([0xc3eaf764, 0x0b754369, 0xbd2950dd, 0x907c66fb9 & 0xffffffff])).toMatch(/^c3eaf764-0b75-4369-bd29-50dd/);
    expect(retisUfid([1, 2, 3])).toBeNull();
    expect(retisUfid('C3EAF764-0B75-4369-BD29-5DD907C66FB9')).toBe('c3eaf764-0b75-4369-bd29-5dd907c66fb9');
  });

  it('rejects malformed retis lines by number and keeps the rest', () => {
    const at = '"common":{"timestamp":1}';
    const extra = [`{${at},"ovs":{"event_type":"flow_lookup","ufid":"nope"}}`, `{${at},"ovs":{"event_type":"teleport"}}`, 'garbage', '[]'];
    const r = parseRetis(RETIS + extra.join('\n'), { now: 0 });
    expect(r.rejected.map((x) => [x.line, x.reason.split(':')[0]])).toEqual([
      [18, 'ovs.ufid'],
      [19, 'ovs.event_type'],
      [20, 'not JSON'],
      [21, 'a retis event is a JSON object of sections'],
    ]);
    expect(r.events.length).toBe(parseRetis(RETIS, { now: 0 }).events.length);
  });

  it('rejects a recirc action whose id is not a 32-bit recirculation id, naming the field', () => {
    const bad = `{"common":{"timestamp":1},"ovs":{"event_type":"action_execute","action":"recirc","id":${2 ** 32}}}`;
    const r = parseRetis(RETIS + bad, { now: 0 });
    expect(r.rejected.map((x) => [x.line, x.reason])).toEqual([[18, 'ovs.id: not a recirculation id: 4294967296']]);
  });
});
