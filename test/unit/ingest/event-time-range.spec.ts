// An ingested event's time is stored as toISOString writes it and ordered as text: only years
// 0000-9999 in UTC order right, so an offset that carries a time out of them is refused at ingest,
// naming `time`; a retis file whose startup offset puts its times beyond any Date is refused per
// line, not a thrown RangeError.
import { parseEventLines, validateEvent } from '../../../src/ingest/ndjson';
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

  // Date.parse rolls a day its month does not have into the next month and hour 24 into the next
  // day: the event was stored at a time nobody gave. One check with since/until (common/query.ts).
  it.each([
    ['2026-02-30T05:00:00Z', 'no February 30th'],
    ['2025-02-29T05:00:00Z', 'no February 29th in 2025'],
    ['2026-04-31T05:00:00Z', 'no April 31st'],
    ['2026-11-27T24:00:00Z', 'hour 24'],
    ['2026-12-31T24:00:00+01:00', 'hour 24, with an offset'],
  ])('refuses %s (%s), naming time', (t) => {
    expect(reason(upcall(t))).toBe(`time: is not a time of the calendar: no such day or hour (got ${JSON.stringify(t)})`);
  });

  it.each([['2024-02-29T05:00:00Z'], ['2026-11-27T23:59:59.999Z'], ['2026-11-27t05:00:00z'], ['2026-01-31T00:00:00-05:00']])('takes %s', (t) => {
    expect(reason(upcall(t))).toBeNull();
  });

  it.each([['2026-11-27T05:00:00'], ['2026-11-27 05:00:00Z'], ['2026-11-27T05:60:00Z'], ['2026-13-01T05:00:00Z'], ['yesterday']])('refuses %s as no RFC 3339 time', (t) => {
    expect(reason(upcall(t))).toMatch(/^time: must be an RFC 3339 time like 2026-11-27T05:00:00Z \(got /);
  });

  it('a whole batch: the impossible date is a rejected line naming time, the others are kept', () => {
    const text = [upcall('2026-02-28T05:00:00Z'), upcall('2026-02-30T05:00:00Z'), upcall('2026-03-01T05:00:00Z')].map((e) => JSON.stringify(e)).join('\n');
    const r = parseEventLines(text);
    expect(r.events.map((e) => [e.line, e.event.time])).toEqual([
      [1, '2026-02-28T05:00:00Z'],
      [3, '2026-03-01T05:00:00Z'],
    ]);
    expect(r.rejected).toEqual([{ line: 2, reason: expect.stringMatching(/^time: is not a time of the calendar/) }]);
  });

  it.each([
    ['1e400', 'Infinity (a number beyond the double range, ±1.8e308)'],
    ['-1e400', '-Infinity (a number beyond the double range, ±1.8e308)'],
    ['-1', '-1'],
    ['"5"', '"5"'],
  ])('a retis common.timestamp of %s is named in the reason', (raw, got) => {
    const r = parseRetis(`{"common":{"timestamp":${raw}},"ovs":{"event_type":"upcall","cpu":1}}`, { now: 0 });
    expect(r.rejected).toEqual([{ line: 1, reason: `common.timestamp: must be a non-negative integer of nanoseconds (got ${got})` }]);
  });

  it('a retis counter past the double range is named too, not as null', () => {
    const r = parseRetis('{"common":{"timestamp":1},"ovs":{"event_type":"upcall","cpu":1e400}}', { now: 0 });
    expect(r.rejected).toEqual([{ line: 1, reason: 'ovs.cpu: must be a non-negative integer (got Infinity (a number beyond the double range, ±1.8e308))' }]);
  });

  it('a retis line without common.timestamp says nothing was given', () => {
    expect(parseRetis('{"ovs":{"event_type":"upcall","cpu":1}}', { now: 0 }).rejected).toEqual([{ line: 1, reason: 'common.timestamp: must be a non-negative integer of nanoseconds (got nothing)' }]);
  });

  it('refuses a retis line whose startup offset is out of any Date range, line by line', () => {
    const text = ['{"startup":{"clock_monotonic_offset":{"sec":1e15,"nsec":0}}}', '{"common":{"timestamp":5},"ovs":{"event_type":"upcall","cpu":1}}'].join('\n');
    const r = parseRetis(text, { now: 0 });
    expect(r.events).toEqual([]);
    expect(r.rejected).toEqual([{ line: 2, reason: expect.stringMatching(/^retis event gave an invalid upcall: time: must be an RFC 3339 time .*out of range/) }]);
  });
});
