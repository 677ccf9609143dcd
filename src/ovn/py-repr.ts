// ovn-detrace prints OVSDB cells with Python's str()/repr() of what the OVS IDL returns: optional
// and set columns as sorted lists, maps as dicts in key order, strings quoted with ''. Rendering
// the same way lets our one-line summaries be compared with ovn-detrace's, character for character.
import type { CellValue, Value } from '../ovsdb/replica/datum';

function reprString(s: string): string {
  // Python picks "" only when the string has ' and no "; escapes \ and the chosen quote.
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else out += ch;
  }
  return quote + out + quote;
}

export function reprValue(v: Value): string {
  if (typeof v === 'string') return reprString(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return String(v);
}

const compare = (a: Value, b: Value): number => (a < b ? -1 : a > b ? 1 : 0);

/** Python repr of a decoded cell (a list for sets, a dict for maps). */
export function pyRepr(cell: CellValue | undefined): string {
  if (cell === undefined) return '[]';
  if (Array.isArray(cell)) return '[' + [...cell].sort(compare).map(reprValue).join(', ') + ']';
  if (typeof cell === 'object') {
    const keys = Object.keys(cell).sort();
    return '{' + keys.map((k) => `${reprString(k)}: ${reprValue(cell[k])}`).join(', ') + '}';
  }
  return reprValue(cell);
}

/** Python str() of a cell: scalars bare, containers as repr. */
export function pyStr(cell: CellValue | undefined): string {
  if (cell === undefined) return '[]';
  if (typeof cell === 'string') return cell;
  if (typeof cell === 'boolean') return cell ? 'True' : 'False';
  if (typeof cell === 'number') return String(cell);
  return pyRepr(cell);
}
