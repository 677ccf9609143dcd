// A validator for the subset of JSON Schema that EVENT_SCHEMA uses (type, const, enum, required,
// properties, additionalProperties: false, minLength/maxLength, pattern, format uuid/date-time,
// minimum/maximum, items, minItems/maxItems, a `type` discriminator over oneOf, and
// `oneOfRequired`: exactly one of the listed property sets). Hand-written so the service needs no
// schema library, and so each error names the field and says what it must be.

import { FOUR_DIGIT_YEARS_TEXT, inFourDigitYears, NOT_CALENDAR_TEXT, parseRfc3339 } from '../common/query';

export interface SchemaIssue {
  /** JSON pointer-ish path: `steps[2].table`; '' for the whole event. */
  readonly field: string;
  readonly reason: string;
}

type Schema = Record<string, unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const patterns = new Map<string, RegExp>();
/** In `u` mode a pair is one code point: \p{Cs} matches only a surrogate without its other half. */
const LONE_SURROGATE = /\p{Cs}/u;

/** First problem found, or null when the value conforms. */
export function checkSchema(schema: Schema, value: unknown, field = ''): SchemaIssue | null {
  if (Array.isArray(schema.oneOf)) return checkOneOf(schema, value, field);
  if ('const' in schema && value !== schema.const) return issue(field, `must be ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value as never)) {
    return issue(field, `must be one of ${schema.enum.join(', ')}${typeof value === 'string' ? ` (got ${JSON.stringify(value.slice(0, 40))})` : ''}`);
  }
  switch (schema.type) {
    case 'object':
      return checkObject(schema, value, field);
    case 'array':
      return checkArray(schema, value, field);
    case 'string':
      return checkString(schema, value, field);
    case 'integer':
    case 'number':
      return checkNumber(schema, value, field);
    case 'boolean':
      return typeof value === 'boolean' ? null : issue(field, 'must be true or false');
    default:
      return null;
  }
}

function checkOneOf(schema: Schema, value: unknown, field: string): SchemaIssue | null {
  const branches = schema.oneOf as Schema[];
  const disc = (schema.discriminator as { propertyName?: string } | undefined)?.propertyName;
  if (disc) {
    if (!isObject(value)) return issue(field, 'must be a JSON object');
    const names = branches.map((b) => ((b.properties as Schema)[disc] as Schema).const as string);
    const at = names.indexOf(value[disc] as string);
    if (at < 0) return issue(join(field, disc), value[disc] === undefined ? `is required (one of ${names.join(', ')})` : `must be one of ${names.join(', ')}`);
    return checkSchema(branches[at], value, field);
  }
  const ok = branches.filter((b) => checkSchema(b, value, field) === null).length;
  return ok === 1 ? null : issue(field, ok === 0 ? 'matches none of the allowed shapes' : 'matches more than one allowed shape');
}

function checkObject(schema: Schema, value: unknown, field: string): SchemaIssue | null {
  if (!isObject(value)) return issue(field, 'must be a JSON object');
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  for (const r of (schema.required ?? []) as string[]) if (value[r] === undefined) return issue(join(field, r), 'is required');
  for (const [k, v] of Object.entries(value)) {
    // Own properties only: `constructor`, `__proto__`, `toString`… are on every object's prototype.
    const sub = Object.hasOwn(props, k) ? props[k] : undefined;
    if (!sub) {
      if (schema.additionalProperties === false) return issue(join(field, k), 'is not a field of this event type');
      continue;
    }
    const bad = checkSchema(sub, v, join(field, k));
    if (bad) return bad;
  }
  const sets = schema.oneOfRequired as string[][] | undefined;
  if (sets) {
    const present = sets.filter((s) => s.every((k) => value[k] !== undefined));
    if (present.length !== 1) {
      const names = sets.map((s) => s.join('+')).join(' or ');
      // Named by the fields in question (`text|steps`), so the reason still starts with a field.
      return issue(join(field, sets.map((set) => set.join('+')).join('|')), present.length ? `give only one of ${names}` : `needs ${names}`);
    }
  }
  return null;
}

function checkArray(schema: Schema, value: unknown, field: string): SchemaIssue | null {
  if (!Array.isArray(value)) return issue(field, 'must be an array');
  if (typeof schema.minItems === 'number' && value.length < schema.minItems) return issue(field, `must have at least ${schema.minItems} items`);
  if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) return issue(field, `must have at most ${schema.maxItems} items`);
  const items = schema.items as Schema | undefined;
  if (items) {
    for (let i = 0; i < value.length; i++) {
      const bad = checkSchema(items, value[i], `${field}[${i}]`);
      if (bad) return bad;
    }
  }
  return null;
}

function checkString(schema: Schema, value: unknown, field: string): SchemaIssue | null {
  if (typeof value !== 'string') return issue(field, 'must be a string');
  // No OVS text holds one, and PostgreSQL's text cannot: the shipper would have to change it
  // (U+FFFD), and two keys apart only there would become one row.
  if (value.includes('\u0000')) return issue(field, `must not contain U+0000 (NUL) (at character ${value.indexOf('\u0000')})`);
  // A lone surrogate (`"\ud800"` is valid JSON) has no UTF-8 form: read back from the store as
  // U+FFFD, so ids apart only there came back as one id, and no text was what the producer sent.
  const lone = LONE_SURROGATE.exec(value);
  if (lone) return issue(field, `must not contain a lone UTF-16 surrogate (\\u${lone[0].charCodeAt(0).toString(16)} at character ${lone.index}): it has no UTF-8 form`);
  if (typeof schema.minLength === 'number' && value.length < schema.minLength) return issue(field, schema.minLength === 1 ? 'must not be empty' : `must be at least ${schema.minLength} characters`);
  if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) return issue(field, `must be at most ${schema.maxLength} characters`);
  if (schema.format === 'uuid' && !UUID.test(value)) return issue(field, `must be a full lower-case UUID (got ${JSON.stringify(value.slice(0, 40))})`);
  if (schema.format === 'date-time') {
    // One check with since/until (common/query.ts): Date.parse alone rolled 2026-02-30 into March
    // 2nd and T24:00 into the next day, and the event was stored at that other time.
    const at = parseRfc3339(value);
    if (at === 'format') return issue(field, `must be an RFC 3339 time like 2026-11-27T05:00:00Z (got ${JSON.stringify(value.slice(0, 40))})`);
    if (at === 'calendar') return issue(field, `${NOT_CALENDAR_TEXT} (got ${JSON.stringify(value.slice(0, 40))})`);
    // An offset can carry a four-digit year out of 0000-9999 in UTC ('9999-12-31T23:30:00-01:00'),
    // which the store would write '+010000-…' and order as text before every other time.
    if (!inFourDigitYears(at)) return issue(field, `must be ${FOUR_DIGIT_YEARS_TEXT} (got ${JSON.stringify(value.slice(0, 40))}, ${new Date(at).toISOString()} in UTC)`);
  }
  if (typeof schema.pattern === 'string') {
    let re = patterns.get(schema.pattern);
    if (!re) patterns.set(schema.pattern, (re = new RegExp(schema.pattern)));
    if (!re.test(value)) return issue(field, `must match ${schema.pattern} (got ${JSON.stringify(value.slice(0, 40))})`);
  }
  return null;
}

function checkNumber(schema: Schema, value: unknown, field: string): SchemaIssue | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) return issue(field, 'must be a number');
  if (schema.type === 'integer' && !Number.isInteger(value)) return issue(field, 'must be an integer');
  if (typeof schema.minimum === 'number' && value < schema.minimum) return issue(field, `must be at least ${schema.minimum}`);
  if (typeof schema.maximum === 'number' && value > schema.maximum) return issue(field, `must be at most ${schema.maximum}`);
  return null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const join = (a: string, b: string) => (a ? `${a}.${b}` : b);
const issue = (field: string, reason: string): SchemaIssue => ({ field, reason });
