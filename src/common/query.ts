// Query-string parsing for list endpoints: strict, and every error names the parameter.
// Hand-written rather than class-validator DTOs so that a repeated parameter (?limit=1&limit=2),
// an array smuggled in by qs (?role[]=x) or an over-long value is a clear 400, never a crash.
import { badRequest } from './api-error';

export type Query = Record<string, unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isUuid = (s: string): boolean => UUID.test(s);

export function str(q: Query, name: string, opts: { max?: number; pattern?: RegExp; what?: string } = {}): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(name, 'must be given once, as a plain value');
  if (v === '') throw badRequest(name, 'must not be empty');
  if (v.length > (opts.max ?? 256)) throw badRequest(name, `longer than ${opts.max ?? 256} characters`);
  if (/[\u0000-\u001f\u007f]/.test(v)) throw badRequest(name, 'contains control characters');
  if (opts.pattern && !opts.pattern.test(v)) throw badRequest(name, `must be ${opts.what ?? `like ${opts.pattern}`}`);
  return v;
}

export function oneOf<T extends string>(q: Query, name: string, values: readonly T[]): T | undefined {
  const v = str(q, name, { max: 64 });
  if (v === undefined) return undefined;
  if (!values.includes(v as T)) throw badRequest(name, `must be one of ${values.join(', ')} (got ${JSON.stringify(v)})`);
  return v as T;
}

export function uuid(q: Query, name: string): string | undefined {
  const v = str(q, name, { max: 36 });
  if (v === undefined) return undefined;
  const l = v.toLowerCase();
  if (!isUuid(l)) throw badRequest(name, `must be a full UUID (got ${JSON.stringify(v)})`);
  return l;
}

export function pathUuid(value: string, name: string): string {
  const l = value.toLowerCase();
  if (!isUuid(l)) throw badRequest(name, `must be a full UUID (got ${JSON.stringify(value.slice(0, 64))})`);
  return l;
}

/**
 * Ids are integers below 2^53 (writer slots end there, storage/spool.ts): a longer one would be
 * rounded to another id (9007199254740993 is read as ...992), and the answer would name that id.
 */
export function pathId(value: string, name: string): number {
  if (!/^[1-9]\d{0,15}$/.test(value)) throw badRequest(name, `must be a positive integer (got ${JSON.stringify(value.slice(0, 64))})`);
  if (!Number.isSafeInteger(Number(value))) throw badRequest(name, `must be a positive integer below 2^53 (got ${JSON.stringify(value)})`);
  return Number(value);
}

/**
 * A year as toISOString writes it: four digits within 0000-9999, else signed six digits
 * (`+010000`, `-000001`; `-000000` is no year and Date.parse refuses it).
 */
const ISO_YEAR = String.raw`(?:\d{4}|[+-]\d{6})`;

/**
 * Times are stored and compared as text, which orders them only while the year has four digits
 * (`+010000-…` and `-000001-…` sort before `0000-…`): ingest refuses an event time outside these
 * years, and since/until outside them would compare wrongly, so they are refused too.
 */
const FOUR_DIGIT_YEARS = { first: Date.parse('0000-01-01T00:00:00Z'), last: Date.parse('9999-12-31T23:59:59.999Z') };
export const inFourDigitYears = (ms: number): boolean => ms >= FOUR_DIGIT_YEARS.first && ms <= FOUR_DIGIT_YEARS.last;
export const FOUR_DIGIT_YEARS_TEXT = 'from year 0000 to 9999 in UTC';

/**
 * RFC 3339 with its offset: Date.parse alone reads a time without one in the server's own time
 * zone (`2026-11-27T05:00` meant 10:00Z on a host in New York) and rolls a day the month does not
 * have into the next month (`2026-02-30` was March 2nd), and hour 24 into the next day.
 */
const RFC3339 = new RegExp(String.raw`^(${ISO_YEAR})-(\d{2})-(\d{2})[Tt](\d{2}):\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$`);

/** Whether year-month-day is a day of the calendar (proleptic Gregorian, as Date counts). */
function isCalendarDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const last = new Date(0);
  last.setUTCFullYear(year, month, 0);
  return day <= last.getUTCDate();
}

/** The reason, after the field's name, for a day its month does not have or hour 24. */
export const NOT_CALENDAR_TEXT = 'is not a time of the calendar: no such day or hour';

/**
 * An RFC 3339 time with its offset as ms since the epoch, or why it is none: 'format' (not that
 * syntax, or a minute, second or offset Date.parse refuses) or 'calendar' (a day its month does not
 * have, or hour 24, which Date.parse would roll into the next month or day). The one check of
 * since/until (time, below) and of an ingested event's time (ingest/schema-check.ts); the year
 * range (inFourDigitYears) is the caller's.
 */
export function parseRfc3339(v: string): number | 'format' | 'calendar' {
  const m = RFC3339.exec(v);
  const t = m ? Date.parse(v) : NaN;
  if (!m || Number.isNaN(t)) return 'format';
  if (!isCalendarDay(Number(m[1]), Number(m[2]), Number(m[3])) || Number(m[4]) > 23) return 'calendar';
  return t;
}

export function time(q: Query, name: string): string | undefined {
  const v = str(q, name, { max: 40 });
  if (v === undefined) return undefined;
  const t = parseRfc3339(v);
  if (t === 'format') throw badRequest(name, `must be an RFC 3339 time with its offset, like 2026-11-27T05:00:00Z (got ${JSON.stringify(v)})`);
  if (t === 'calendar') throw badRequest(name, `${NOT_CALENDAR_TEXT} (got ${JSON.stringify(v)})`);
  if (!inFourDigitYears(t)) throw badRequest(name, `must be ${FOUR_DIGIT_YEARS_TEXT}, as trace times are (got ${JSON.stringify(v)})`);
  return new Date(t).toISOString();
}

export function limit(q: Query): number {
  const v = str(q, 'limit', { max: 8 });
  if (v === undefined) return 50;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 500) throw badRequest('limit', `must be an integer from 1 to 500 (got ${JSON.stringify(v)})`);
  return Number(v);
}

/** What makeCursor and makeTraceCursor write: base64url without padding. */
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Cursors are opaque to clients: base64url of the last item's id. */
export function cursor(q: Query): number | undefined {
  const v = str(q, 'cursor', { max: 64 });
  if (v === undefined) return undefined;
  // Node's decoder skips what is not base64url: "aWQ6MT!Iz" read as id:123.
  if (!BASE64URL.test(v)) throw badRequest('cursor', 'is not a cursor this API returned (not base64url)');
  const decoded = Buffer.from(v, 'base64url').toString('utf8');
  if (!/^id:[1-9]\d{0,15}$/.test(decoded)) throw badRequest('cursor', 'is not a cursor this API returned');
  if (!Number.isSafeInteger(Number(decoded.slice(3)))) throw badRequest('cursor', `its id must be a positive integer below 2^53 (got ${JSON.stringify(decoded.slice(3))})`);
  return Number(decoded.slice(3));
}

export const makeCursor = (id: number): string => Buffer.from(`id:${id}`).toString('base64url');

/**
 * Where a page of traces stops: newest first is by trace time, then id (ids order a writer's own
 * traces only: with PostgreSQL each writer has its own id range, storage/spool.ts), so the next
 * page starts strictly below this (time, id).
 */
export interface TracePosition {
  at: string;
  id: number;
}

/**
 * The times a writer stamps (toISOString, whatever the year: a trace ingested before ingest
 * refused other years may still hold one, and its page's cursor must page on): UTC, `Z`. The page
 * is cut by text order against those, so another offset, a day its month lacks or hour 24 (which
 * the API never writes) would cut it in the wrong place: refused with parseRfc3339's calendar check.
 */
const TRACE_TIME = new RegExp(String.raw`^${ISO_YEAR}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$`);

export const makeTraceCursor = (p: TracePosition): string => Buffer.from(`at:${p.at};id:${p.id}`).toString('base64url');

/**
 * `GET /traces`'s cursor: a position (time and id), or `id:N` as the list returned before it was
 * ordered by time (still taken: placed at that trace's time, trace-read-store.ts), as `cursor`.
 */
export function traceCursor(q: Query): { before?: TracePosition; cursor?: number } {
  const v = str(q, 'cursor', { max: 128 });
  if (v === undefined) return {};
  if (!BASE64URL.test(v)) throw badRequest('cursor', 'is not a cursor this API returned (not base64url)');
  const decoded = Buffer.from(v, 'base64url').toString('utf8');
  const id = (text: string): number => {
    if (!/^[1-9]\d{0,15}$/.test(text) || !Number.isSafeInteger(Number(text))) throw badRequest('cursor', `its trace id must be a positive integer below 2^53 (got ${JSON.stringify(text.slice(0, 20))})`);
    return Number(text);
  };
  if (decoded.startsWith('id:')) return { cursor: id(decoded.slice(3)) };
  const m = /^at:([^;]*);id:(.*)$/s.exec(decoded);
  if (!m) throw badRequest('cursor', 'is not a cursor this API returned (neither a trace position nor an id)');
  // An empty time is a position the port walk can stand on: a port row an old agent shipped
  // before its trace keeps '' in PostgreSQL (migration PgPortTimeOfOldAgents), below every time.
  if (m[1] !== '' && (!TRACE_TIME.test(m[1]) || typeof parseRfc3339(m[1]) !== 'number'))
    throw badRequest('cursor', `its time must be an RFC 3339 time in UTC like 2026-11-27T05:00:00.000Z, as the API writes it (got ${JSON.stringify(m[1].slice(0, 40))})`);
  return { before: { at: m[1], id: id(m[2]) } };
}

export function includes(q: Query, allowed: readonly string[]): Set<string> {
  const v = str(q, 'include', { max: 128 });
  if (v === undefined) return new Set();
  const parts = v.split(',');
  for (const p of parts) if (!allowed.includes(p)) throw badRequest('include', `unknown value ${JSON.stringify(p)} (allowed: ${allowed.join(', ')})`);
  return new Set(parts);
}

export function rejectUnknown(q: Query, known: readonly string[]): void {
  for (const k of Object.keys(q)) if (!known.includes(k)) throw badRequest(k.slice(0, 64), `unknown query parameter (known: ${known.join(', ') || 'none'})`);
}

export interface Page<T> {
  items: T[];
  next: string | null;
}

export function page<T extends { id: number }>(rows: T[], lim: number): Page<T> {
  const more = rows.length > lim;
  const items = more ? rows.slice(0, lim) : rows;
  return { items, next: more ? makeCursor(items[items.length - 1].id) : null };
}
