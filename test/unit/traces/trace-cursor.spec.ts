// GET /traces's cursor (common/query.ts): a position (trace time and id) the API returned, or an
// `id:N` cursor from before lists were ordered by time; anything else is a 400 naming what is wrong.
import { ApiError } from '../../../src/common/api-error';
import { makeCursor, makeTraceCursor, traceCursor } from '../../../src/common/query';

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
    expect(traceCursor({ cursor: makeTraceCursor({ at: '2026-12-05T10:00:01+02:00', id: 1 }) })).toEqual({ before: { at: '2026-12-05T10:00:01+02:00', id: 1 } });
    expect(traceCursor({ cursor: makeCursor(42) })).toEqual({ cursor: 42 });
    expect(traceCursor({})).toEqual({});
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
});
