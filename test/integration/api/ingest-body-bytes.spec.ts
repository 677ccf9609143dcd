// POST /ingest/* read the body's bytes themselves (not body-parser): what the bytes say must be
// what is stored, or the line is refused saying why. A line that was not UTF-8 had its bad bytes
// turned into U+FFFD silently, so two producers' ids that differ only there became one id: the
// second event was answered "accepted" (a duplicate) and never stored.
import { useDaemonlessApp } from '../../support/app';

jest.setTimeout(120_000);

const T = '2026-11-27T05:21:55.633Z';
const upcall = (id: string) => `{"type":"upcall","id":"${id}","time":"${T}","upcallType":"miss","key":"recirc_id(0),in_port(4),eth_type(0x0800)"}`;

describe('POST /ingest/events: the body as bytes', () => {
  const t = useDaemonlessApp();

  const post = (body: Buffer, headers: Record<string, string> = {}) =>
    t.http.post('/ingest/events?source=bytes').set({ 'Content-Type': 'application/x-ndjson', ...headers }).send(body);

  it('a line that is not UTF-8 is refused by its number, the others are stored; nothing is taken for a duplicate', async () => {
    // Latin-1 ids (a producer that did not encode): é and è are one byte each, not UTF-8.
    const body = Buffer.concat([Buffer.from(`${upcall('ok-1')}\n`), Buffer.from(`${upcall('caf\xe9')}\n${upcall('caf\xe8')}\n`, 'latin1'), Buffer.from(`${upcall('ok-2')}\n`)]);
    const res = await post(body).expect(200);
    expect(res.body).toEqual({
      accepted: 2,
      rejected: 2,
      duplicates: 0,
      errors: [
        { line: 2, reason: expect.stringMatching(/^not UTF-8: byte 27 \(0xe9\)/) },
        { line: 3, reason: expect.stringMatching(/^not UTF-8: byte 27 \(0xe8\)/) },
      ],
    });
    expect((await t.http.get('/upcalls?source=bytes&limit=10').expect(200)).body.items).toHaveLength(2);
    // The retis adapter reads its lines the same way.
    const retis = await t.http.post('/ingest/retis').set('Content-Type', 'application/x-ndjson').send(Buffer.from('{"common":{"timestamp":1},"ovs":{"event_type":"caf\xe9"}}\n', 'latin1')).expect(200);
    expect(retis.body.errors).toEqual([{ line: 1, reason: expect.stringMatching(/^not UTF-8: byte 51 \(0xe9\)/) }]);
  });

  it('UTF-8 beyond ASCII, a byte order mark, CRLF and U+FFFD sent as such are read as before', async () => {
    const res = await post(Buffer.from(`\ufeff${upcall('naïve-\ufffd')}\r\n${upcall('naïve-2')}\n`)).expect(200);
    expect(res.body).toEqual({ accepted: 2, rejected: 0, duplicates: 0, errors: [] });
  });

  it('a compressed body is refused with 415 naming Content-Encoding, not read as garbage lines', async () => {
    const { gzipSync } = await import('node:zlib');
    const res = await post(gzipSync(`${upcall('gz-1')}\n`), { 'Content-Encoding': 'gzip' }).expect(415);
    expect(res.body).toMatchObject({ field: 'content-encoding', message: expect.stringMatching(/^Content-Encoding "gzip" is not read here: send the lines uncompressed$/) });
  });

  it('a charset other than UTF-8 is refused with 415 naming it', async () => {
    const res = await post(Buffer.from(`${upcall('u16-1')}\n`, 'utf16le'), { 'Content-Type': 'application/x-ndjson; charset=utf-16le' }).expect(415);
    expect(res.body).toMatchObject({ field: 'content-type', message: expect.stringMatching(/^Content-Type: charset "utf-16le" is not read here: send the lines as UTF-8$/) });
    await post(Buffer.from(`${upcall('u8-1')}\n`), { 'Content-Type': 'application/x-ndjson; charset=UTF-8' }).expect(200);
  });
});
