// GET /traces's cursor (common/query.ts): a position (trace time and id) the API returned, or an
// `id:N` cursor from before lists were ordered by time; anything else is a 400 naming what is wrong.
import { ApiError } from '../../../src/common/api-error';
import { makeCursor, makeTraceCursor, time, traceCursor } from '../../../src/common/query';

const b64 = (text: string) => Buffer.from(text).toString('base64url');

function refusal(cursor: unknown): string {
  try {
    traceCursor({ cursor });
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    const body = (e as ApiError).getResponse() as { statusCode: number; field: string; message: string };
    expect(body).toMatchObject({ statusCode: 400, field: 'cursor' });
    return body.message;
  }
  throw new Error(`cursor ${JSON.stringify(cursor)} was taken`);
}

describe('traceCursor', () => {
  it('reads back the position it made, and an id: cursor as an id', () => {
    const p = { at: '2026-12-05T10:00:01.250Z', id: 3 * 2 ** 40 + 17 };
    expect(traceCursor({ cursor: makeTraceCursor(p) })).toEqual({ before: p });
    expect(traceCursor({ cursor: makeCursor(42) })).toEqual({ cursor: 42 });
    expect(traceCursor({})).toEqual({});
    // The port walk's position on a port row an old agent shipped before its trace (time '').
    expect(traceCursor({ cursor: makeTraceCursor({ at: '', id: 9 }) })).toEqual({ before: { at: '', id: 9 } });
  });

  it('refuses what is no cursor of this API, naming the part that is wrong', () => {
    expect(refusal('a b')).toMatch(/not base64url/);
    expect(refusal(['x', 'y'])).toMatch(/must be given once/);
    expect(refusal('A'.repeat(129))).toMatch(/longer than 128/);
    expect(refusal(b64('pos:5'))).toMatch(/neither a trace position nor an id/);
    expect(refusal(b64('at:2026-12-05T10:00:00Z'))).toMatch(/neither a trace position nor an id/);
    expect(refusal(b64('at:yesterday;id:5'))).toMatch(/its time must be an RFC 3339 time .*"yesterday"/);
    expect(refusal(b64("at:2026-12-05T10:00:00Z' OR 1=1;id:5"))).toMatch(/its time must be an RFC 3339 time/);
    expect(refusal(b64('at:2026-12-05T10:00:00\u0000Z;id:5'))).toMatch(/its time must be/);
    expect(refusal(b64('at:2026-12-05T10:00:00Z;id:0'))).toMatch(/its trace id must be a positive integer .*"0"/);
    expect(refusal(b64('at:2026-12-05T10:00:00Z;id:-3'))).toMatch(/its trace id must be a positive integer/);
    expect(refusal(b64('at:2026-12-05T10:00:00Z;id:5;id:6'))).toMatch(/its trace id must be a positive integer/);
    expect(refusal(b64('id:9007199254740993'))).toMatch(/below 2\^53/);
    expect(refusal(b64('id:1e3'))).toMatch(/its trace id must be a positive integer/);
  });

  // Stored times are UTC as toISOString writes them and the page is cut by text order: a forged
  // `+02:00` (10:00:01Z written as 12:00:01) was taken and the page held two hours of traces newer
  // than the position; a day the month lacks or hour 24 sat between real days in text order.
  it('refuses a time the API never writes: another offset than Z, a day the month lacks, hour 24', () => {
    expect(refusal(makeTraceCursor({ at: '2026-12-05T12:00:01+02:00', id: 1 }))).toMatch(/its time must be .*UTC.*"2026-12-05T12:00:01\+02:00"/);
    expect(refusal(makeTraceCursor({ at: '2026-12-05T10:00:01-00:00', id: 1 }))).toMatch(/its time must be .*UTC/);
    expect(refusal(makeTraceCursor({ at: '2026-02-30T10:00:01.000Z', id: 1 }))).toMatch(/its time must be .*"2026-02-30/);
    expect(refusal(makeTraceCursor({ at: '2026-12-05T24:00:00.000Z', id: 1 }))).toMatch(/its time must be .*"2026-12-05T24/);
    expect(refusal(makeTraceCursor({ at: 'NaN', id: 1 }))).toMatch(/its time must be/);
    expect(refusal(b64('at:2026-12-05T10:00:00.000Z;id:NaN'))).toMatch(/its trace id must be a positive integer/);
    expect(refusal(b64('at:2026-12-05T10:00:00.000Z;id:5;at:x'))).toMatch(/its trace id must be a positive integer/);
  });

  it('reads back a position whose time toISOString wrote with a six-digit year (a trace ingested at year -1 or 10000)', () => {
    for (const ms of [Date.UTC(12345, 0, 2, 3, 4, 5, 678), Date.UTC(-1, 11, 31, 23), Date.UTC(10000, 0, 1)]) {
      const p = { at: new Date(ms).toISOString(), id: 7 };
      expect(p.at).toMatch(/^[+-]\d{6}-/);
      expect(traceCursor({ cursor: makeTraceCursor(p) })).toEqual({ before: p });
    }
  });

  it('still refuses a year that is neither four digits nor signed six, or no date at all', () => {
    expect(refusal(b64('at:+12345-01-01T00:00:00.000Z;id:5'))).toMatch(/its time must be an RFC 3339 time .*"\+12345/);
    expect(refusal(b64('at:0012345-01-01T00:00:00.000Z;id:5'))).toMatch(/its time must be/);
    expect(refusal(b64('at:-000000-01-01T00:00:00.000Z;id:5'))).toMatch(/its time must be .*"-000000/);
    expect(refusal(b64('at:2026-13-45T00:00:00.000Z;id:5'))).toMatch(/its time must be .*"2026-13-45/);
  });
});

describe('since/until', () => {
  function refused(v: string): { field: string; message: string } {
    try {
      time({ since: v }, 'since');
    } catch (e) {
      return (e as ApiError).getResponse() as { field: string; message: string };
    }
    throw new Error(`since ${v} was taken`);
  }

  it('takes an RFC 3339 time and answers it as the store writes it', () => {
    expect(time({ until: '2026-12-05T12:00:00+02:00' }, 'until')).toBe('2026-12-05T10:00:00.000Z');
    expect(time({ since: '0000-01-01T00:00:00Z' }, 'since')).toBe('0000-01-01T00:00:00.000Z');
  });

  it('refuses a time outside years 0000-9999 in UTC, which text order cannot place, naming the parameter', () => {
    for (const v of ['+010000-01-01T00:00:00.000Z', '-000001-12-31T23:00:00.000Z', '9999-12-31T23:30:00-01:00', '0000-01-01T00:00:00+01:00']) {
      expect(refused(v)).toMatchObject({ field: 'since', message: expect.stringMatching(/from year 0000 to 9999 in UTC/) });
    }
    expect(refused('+12345-01-01T00:00:00Z')).toMatchObject({ field: 'since', message: expect.stringMatching(/must be an RFC 3339 time/) });
  });
});
