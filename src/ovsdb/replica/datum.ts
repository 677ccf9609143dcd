// OVSDB datums → plain JavaScript values, by the column's schema type, so the rest of the
// service never sees wire encodings: a UUID becomes its string, a set (also one sent as a
// bare atom) an array, a map an object. update2's "modify" carries, for set and map columns
// with max > 1, the difference between old and new; a column of at most one element that had a
// value gets its new value outright (Datum.diff in python/ovs/db/data.py; seen on the real
// server with Logical_Switch_Port.up going [false] → [true]).
import type { Atom, ColumnSchema, Datum } from '../types';

export type Value = string | number | boolean;
export type CellValue = Value | Value[] | Record<string, Value>;

export type ColumnKind = 'scalar' | 'set' | 'map';

export interface ColumnType {
  kind: ColumnKind;
  /** Atomic type of the key (and of elements of a set). */
  key: string;
  value?: string;
  min: number;
  max: number;
}

function atomicType(t: unknown): string {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as { type?: unknown }).type === 'string') return (t as { type: string }).type;
  return 'string';
}

export function columnType(schema: ColumnSchema): ColumnType {
  const t = schema.type as unknown;
  if (typeof t === 'string') return { kind: 'scalar', key: t, min: 1, max: 1 };
  const o = (t ?? {}) as { key?: unknown; value?: unknown; min?: number; max?: number | 'unlimited' };
  const min = o.min ?? 1;
  const max = o.max === 'unlimited' ? Infinity : (o.max ?? 1);
  const key = atomicType(o.key);
  if (o.value !== undefined) return { kind: 'map', key, value: atomicType(o.value), min, max };
  // A column that may be empty (min 0) is a set of at most one element on the wire.
  return { kind: min === 1 && max === 1 ? 'scalar' : 'set', key, min, max };
}

export function atomValue(a: Atom): Value {
  if (Array.isArray(a)) return a[1];
  return a;
}

/** A value for an error message, cut short: a malformed datum may be megabytes long. */
export function brief(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function setElements(d: Datum): Atom[] {
  if (Array.isArray(d) && d[0] === 'set') {
    if (!Array.isArray(d[1])) throw new TypeError(`${brief(d)} is not a set: expected ["set",[…]]`);
    return d[1] as Atom[];
  }
  return [d as Atom];
}

function mapPairs(d: Datum): Array<[Atom, Atom]> {
  const pairs = Array.isArray(d) && d[0] === 'map' ? d[1] : undefined;
  if (!Array.isArray(pairs) || !pairs.every((p) => Array.isArray(p) && p.length === 2)) {
    throw new TypeError(`${brief(d)} is not a map: expected ["map",[[key,value],…]]`);
  }
  return pairs as Array<[Atom, Atom]>;
}

/**
 * Sets a map key. `obj[key] = v` would not store the key "__proto__" (it sets the object's
 * prototype, or nothing for a string): a real ovsdb-server holds `external_ids:__proto__=x` fine.
 */
function setKey(obj: Record<string, Value>, key: string, value: Value): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

export function decodeDatum(type: ColumnType, d: Datum): CellValue {
  switch (type.kind) {
    case 'scalar':
      return atomValue(d as Atom);
    case 'set':
      return setElements(d).map(atomValue);
    case 'map': {
      const out: Record<string, Value> = {};
      for (const [k, v] of mapPairs(d)) setKey(out, String(atomValue(k)), atomValue(v));
      return out;
    }
  }
}

export function emptyValue(type: ColumnType): CellValue {
  if (type.kind === 'set') return [];
  if (type.kind === 'map') return {};
  return type.key === 'integer' || type.key === 'real' ? 0 : type.key === 'boolean' ? false : '';
}

/** Applies an update2 "modify" diff to a cell (scalars are replaced). */
export function applyDiff(type: ColumnType, old: CellValue | undefined, diff: Datum): CellValue {
  if (type.kind === 'scalar') return decodeDatum(type, diff);
  const oldEmpty = old === undefined || (Array.isArray(old) ? old.length === 0 : Object.keys(old as object).length === 0);
  if (type.max <= 1 && !oldEmpty) return decodeDatum(type, diff);
  if (type.kind === 'set') {
    const result = new Set((old as Value[] | undefined) ?? []);
    for (const a of setElements(diff)) {
      const v = atomValue(a);
      if (result.has(v)) result.delete(v);
      else result.add(v);
    }
    return [...result];
  }
  const result: Record<string, Value> = { ...((old as Record<string, Value> | undefined) ?? {}) };
  for (const [k, v] of mapPairs(diff)) {
    const key = String(atomValue(k));
    const value = atomValue(v);
    // Present with the same value: removed; present with another value: updated; absent: added.
    if (Object.hasOwn(result, key) && result[key] === value) delete result[key];
    else setKey(result, key, value);
  }
  return result;
}
