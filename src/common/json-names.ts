// Names given twice in one JSON object. JSON.parse keeps the last of them, so a body or an ingested
// line that gives a field twice was read as one of its two values without a word: refused instead,
// by the one check of both (ingest/ndjson.ts per line, refuseRepeatedNames for JSON bodies).
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The path (`steps[1].table`) of the first name given twice in one object of `text`, which
 * JSON.parse has accepted, or null. One pass over the structure: a string is skipped with
 * indexOf (the long ones are values: keys, packets, trace text), names are compared as decoded
 * (`"typ\u0065"` is `type`). An event's objects have few names, where a list beats a Set; past
 * SET_FROM names an object's go in a Set: the line is the producer's, and a list compared each of
 * 200k names with every earlier one (95 s on the event loop for a 1.7 MB line).
 */
export function repeatedName(text: string): string | null {
  // Per depth: the names seen (objects; the lists are reused, depth by depth) or the item index
  // (arrays), and the name under which an object parent holds it.
  let depth = -1;
  let expectName = false;
  let lastName = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let end = text.indexOf('"', i + 1);
      while (escaped(text, end)) end = text.indexOf('"', end + 1);
      if (expectName) {
        const raw = text.slice(i + 1, end);
        const name = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        const seen = frame.names[depth];
        const set = frame.sets[depth];
        if (set ? set.has(name) : seen.includes(name)) return pathOf(depth, name);
        if (set) set.add(name);
        else if (seen.push(name) > SET_FROM) frame.sets[depth] = new Set(seen);
        lastName = name;
        expectName = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      frame.heldAs[depth] = lastName; // read only when held by an object
      frame.isObject[depth] = expectName = c === 0x7b;
      frame.index[depth] = 0;
      if (expectName) (frame.names[depth] ??= []).length = 0;
      frame.sets[depth] = null;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */) {
      if (frame.isObject[depth]) expectName = true;
      else frame.index[depth]++;
    }
  }
  return null;
}

/** repeatedName's frames, kept between calls (one thread, no await inside): an event is a few levels deep. */
const frame = { names: [] as string[][], sets: [] as Array<Set<string> | null>, isObject: [] as boolean[], index: [] as number[], heldAs: [] as string[] };
/** Names an object may have before they go in a Set (repeatedName). */
const SET_FROM = 32;

/** Whether the quote at `at` is escaped: an odd run of backslashes before it. */
function escaped(text: string, at: number): boolean {
  let n = 0;
  while (text.charCodeAt(at - 1 - n) === BACKSLASH) n++;
  return n % 2 === 1;
}

/** `steps[1].table`: the path down to depth, then the name. */
function pathOf(depth: number, name: string): string {
  let path = '';
  for (let d = 1; d <= depth; d++) path += frame.isObject[d - 1] ? `${path ? '.' : ''}${frame.heldAs[d]}` : `[${frame.index[d - 1]}]`;
  return path ? `${path}.${name}` : name;
}

/**
 * body-parser's `verify` for JSON bodies (bootstrap.ts): a 400 naming the name given twice. A body
 * that is not JSON is left to the parser, which names what is wrong with it (repeatedName reads
 * only what JSON.parse has accepted).
 */
export function refuseRepeatedNames(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  let text: string;
  try {
    text = new TextDecoder(encoding).decode(body);
    JSON.parse(text);
  } catch {
    return;
  }
  const name = repeatedName(text);
  // body-parser passes it on as a 400 of this type, which api-error.ts answers naming the field.
  // The name is the client's own (any length, a body is up to 1 MB): cut as onlyKeys cuts an unknown one.
  if (name !== null) throw Object.assign(new Error(`${name.slice(0, 64)}: given twice in one object (a field is given once)`), { status: 400, type: 'entity.repeated.name' });
}
