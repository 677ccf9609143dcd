// An ingested event's time is stored as toISOString writes it and ordered as text: only years
// 0000-9999 in UTC order right, so an offset that carries a time out of them is refused at ingest,
// naming `time`; a retis file whose startup offset puts its times beyond any Date is refused per
// line, not a thrown RangeError.
import { validateEvent } from '../../../src/ingest/ndjson';
import { parseRetis } from '../../../src/ingest/retis-adapter';

const upcall = (time: string) => ({ type: 'upcall', id: 'u1', time });
const reason = (v: unknown) => {
  const r = validateEvent(v);
  return 'reason' in r ? r.reason : null;
};

describe('ingested event time', () => {
  it('takes any time within years 0000-9999 in UTC', () => {
    for (const t of ['2026-11-27T05:21:55.633Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '0000-01-01T01:00:00+01:00', '9999-12-31T22:30:00-01:00']) expect(reason(upcall(t))).toBeNull();
  });

  it('refuses an offset that carries it to year -1 or 10000 in UTC, naming time and the UTC time', () => {
    expect(reason(upcall('9999-12-31T23:30:00-01:00'))).toBe('time: must be from year 0000 to 9999 in UTC (got "9999-12-31T23:30:00-01:00", +010000-01-01T00:30:00.000Z in UTC)');
    expect(reason(upcall('0000-01-01T00:30:00+01:00'))).toMatch(/^time: must be from year 0000 to 9999 in UTC .*-000001-12-31T23:30:00\.000Z in UTC/);
  });

  it('refuses a retis line whose startup offset is out of any Date range, line by line', () => {
    const text = ['{"startup":{"clock_monotonic_offset":{"sec":1e15,"nsec":0}}}', '{"common":{"timestamp":5},"ovs":{"event_type":"upcall","cpu":1}}'].join('\n');
    const r = parseRetis(text, { now: 0 });
    expect(r.events).toEqual([]);
    expect(r.rejected).toEqual([{ line: 2, reason: expect.stringMatching(/^retis event gave an invalid upcall: time: must be an RFC 3339 time .*out of range/) }]);
  });
});
