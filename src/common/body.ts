// JSON body checks with messages that name the field: {"statusCode":400,"message":"maxTraces: must be …","field":"maxTraces"}.
import { badRequest } from './api-error';

export type Body = Record<string, unknown>;

export function object(body: unknown): Body {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('body', 'must be a JSON object');
  return body as Body;
}

export function onlyKeys(b: Body, keys: readonly string[]): void {
  const allowed = keys.length ? `allowed: ${keys.join(', ')}` : 'this route reads no body';
  for (const k of Object.keys(b)) if (!keys.includes(k)) throw badRequest(k.slice(0, 64), `unknown field (${allowed})`);
}

/**
 * A POST that reads no body (a cross-check, a trace of an installed flow): none or `{}`, and any
 * field refused as the routes with a body refuse an unknown one, not ignored (a client that sent
 * options would take them for applied).
 */
export function noBody(body: unknown): void {
  if (body !== undefined) onlyKeys(object(body), []);
}

export function bodyStr(b: Body, name: string, opts: { required?: boolean; max?: number } = {}): string | undefined {
  const v = b[name];
  if (v === undefined || v === null) {
    if (opts.required) throw badRequest(name, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') throw badRequest(name, 'must be a string');
  if (!v.trim()) throw badRequest(name, 'must not be empty');
  if (v.length > (opts.max ?? 1024)) throw badRequest(name, `longer than ${opts.max ?? 1024} characters`);
  if (/[\u0000-\u001f\u007f]/.test(v)) throw badRequest(name, 'contains control characters');
  return v;
}

export function bodyInt(b: Body, name: string, min: number, max: number): number | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw badRequest(name, `must be an integer from ${min} to ${max}`);
  return v;
}

export function bodyBool(b: Body, name: string): boolean | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(name, 'must be true or false');
  return v;
}
