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

export function pathId(value: string, name: string): number {
  if (!/^[1-9]\d{0,15}$/.test(value)) throw badRequest(name, `must be a positive integer (got ${JSON.stringify(value.slice(0, 64))})`);
  return Number(value);
}

export function time(q: Query, name: string): string | undefined {
  const v = str(q, name, { max: 40 });
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(t)) throw badRequest(name, `must be an RFC 3339 time like 2026-11-27T05:00:00Z (got ${JSON.stringify(v)})`);
  return new Date(t).toISOString();
}

export function limit(q: Query): number {
  const v = str(q, 'limit', { max: 8 });
  if (v === undefined) return 50;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 500) throw badRequest('limit', `must be an integer from 1 to 500 (got ${JSON.stringify(v)})`);
  return Number(v);
}

/** Cursors are opaque to clients: base64url of the last item's id. */
export function cursor(q: Query): number | undefined {
  const v = str(q, 'cursor', { max: 64 });
  if (v === undefined) return undefined;
  const decoded = Buffer.from(v, 'base64url').toString('utf8');
  if (!/^id:[1-9]\d{0,15}$/.test(decoded)) throw badRequest('cursor', 'is not a cursor this API returned');
  return Number(decoded.slice(3));
}

export const makeCursor = (id: number): string => Buffer.from(`id:${id}`).toString('base64url');

export function includes(q: Query, allowed: readonly string[]): Set<string> {
  const v = str(q, 'include', { max: 128 });
  if (v === undefined) return new Set();
  const parts = v.split(',');
  for (const p of parts) if (!allowed.includes(p)) throw badRequest('include', `unknown value ${JSON.stringify(p)} (allowed: ${allowed.join(', ')})`);
  return new Set(parts);
}

export function rejectUnknown(q: Query, known: readonly string[]): void {
  for (const k of Object.keys(q)) if (!known.includes(k)) throw badRequest(k.slice(0, 64), `unknown query parameter (known: ${known.join(', ')})`);
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
