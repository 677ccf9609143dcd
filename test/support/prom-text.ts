// A strict reader of the Prometheus text exposition format 0.0.4, for the specs that scrape
// GET /metrics: every rule the format sets (one HELP and one TYPE a family, before its samples;
// a family's samples together; names of the allowed charset; label values escaped as \\ \" \n
// and nothing else; no sample twice; histograms cumulative up to le="+Inf" with _sum and _count)
// is an error naming the line, where Prometheus would refuse the scrape or read it wrong. The
// conventions a scrape can still be read without (counters named _total, no NaN where a number is
// meant) are left to the spec, from the families this returns.

export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  line: number;
}

export interface PromFamily {
  name: string;
  type: PromType;
  help?: string;
  samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly string[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];
const SUFFIXES: Record<PromType, readonly string[]> = { counter: [''], gauge: [''], untyped: [''], histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

/** A float as the format writes one (Go's ParseFloat): digits, exponent, NaN, ±Inf. */
function parseValue(s: string, where: string): number {
  if (/^[+-]?Inf$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new Error(`${where}: ${JSON.stringify(s)} is not a float`);
  return Number(s);
}

/** `{a="x",b="y"}` from index `i` of `line` (at the brace): the labels and the index after the closing brace. */
function parseLabels(line: string, i: number, where: string): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  i++;
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: a label without "="`);
    const name = line.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: label name ${JSON.stringify(name)} is not [a-zA-Z_][a-zA-Z0-9_]*`);
    if (name.startsWith('__')) throw new Error(`${where}: label name ${name} is reserved (__)`);
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    i = eq + 1;
    if (line[i] !== '"') throw new Error(`${where}: the value of ${name} is not quoted`);
    let value = '';
    for (i++; line[i] !== '"'; i++) {
      if (i >= line.length) throw new Error(`${where}: the value of ${name} is not closed`);
      if (line[i] === '\\') {
        const e = line[++i];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`${where}: the value of ${name} has the escape \\${e ?? ''}: only \\\\, \\" and \\n are`);
      } else value += line[i];
    }
    labels[name] = value;
    i++;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`${where}: after the value of ${name}, ${JSON.stringify(line[i] ?? '')} (a comma or "}")`);
  }
  return { labels, end: i + 1 };
}

/** The help text as written after `# HELP name `: \\ and \n are its only escapes. */
function unescapeHelp(s: string, where: string): string {
  return s.replace(/\\(.?)/g, (_, e: string) => {
    if (e === '\\') return '\\';
    if (e === 'n') return '\n';
    throw new Error(`${where}: HELP has the escape \\${e}: only \\\\ and \\n are`);
  });
}

const key = (s: { name: string; labels: Record<string, string> }) =>
  `${s.name}{${Object.entries(s.labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;

/** Every family of `text`, in order; throws at the first thing the format does not allow. */
export function parsePromText(text: string): PromFamily[] {
  if (text.length && !text.endsWith('\n')) throw new Error('the last line does not end with a line feed');
  const families: PromFamily[] = [];
  const byName = new Map<string, PromFamily>();
  const meta = new Map<string, { help?: string; type?: PromType; line: number }>();
  const seen = new Set<string>();
  let current: PromFamily | undefined;
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((raw, n) => {
    const where = `line ${n + 1} (${JSON.stringify(raw.slice(0, 120))})`;
    if (raw.includes('\r')) throw new Error(`${where}: a carriage return`);
    const line = raw.replace(/^[ \t]+/, '');
    if (!line) return;
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]([\s\S]*))?$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest = ''] = m;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: metric name ${JSON.stringify(name)} is not [a-zA-Z_:][a-zA-Z0-9_:]*`);
      if (byName.has(name)) throw new Error(`${where}: ${kind} of ${name} after its samples`);
      const m0 = meta.get(name) ?? { line: n + 1 };
      if (kind === 'HELP') {
        if (m0.help !== undefined) throw new Error(`${where}: a second HELP for ${name}`);
        m0.help = unescapeHelp(rest, where);
      } else {
        if (m0.type !== undefined) throw new Error(`${where}: a second TYPE for ${name}`);
        if (!TYPES.includes(rest.trim())) throw new Error(`${where}: TYPE ${JSON.stringify(rest)} is none of ${TYPES.join(', ')}`);
        m0.type = rest.trim() as PromType;
      }
      meta.set(name, m0);
      return;
    }
    const nameEnd = line.search(/[{ \t]/);
    if (nameEnd < 0) throw new Error(`${where}: a sample without a value`);
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) throw new Error(`${where}: metric name ${JSON.stringify(name)} is not [a-zA-Z_:][a-zA-Z0-9_:]*`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i, where));
    const fields = line.slice(i).trim().split(/[ \t]+/);
    if (!/^[ \t]/.test(line.slice(i)) || fields.length < 1 || fields.length > 2 || !fields[0]) throw new Error(`${where}: a sample is the name, its labels, a value and maybe a timestamp`);
    const value = parseValue(fields[0], where);
    if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) throw new Error(`${where}: timestamp ${fields[1]} is not an integer (ms)`);
    // The family a sample belongs to: the TYPE'd name it is one of the suffixed names of.
    let family = name;
    for (const [base, m0] of meta) {
      const suffixes = SUFFIXES[m0.type ?? 'untyped'];
      if (suffixes.some((s) => base + s === name) && (base.length > family.length || family === name)) family = base;
    }
    if (current?.name !== family) {
      if (byName.has(family)) throw new Error(`${where}: a sample of ${family} apart from the others of its family`);
      const m0 = meta.get(family);
      current = { name: family, type: m0?.type ?? 'untyped', help: m0?.help, samples: [] };
      byName.set(family, current);
      families.push(current);
    }
    if (name !== family && !SUFFIXES[current.type].some((s) => family + s === name)) throw new Error(`${where}: ${name} in family ${family} of type ${current.type}`);
    const sample = { name, labels, value, line: n + 1 };
    if (seen.has(key(sample))) throw new Error(`${where}: ${key(sample)} twice`);
    seen.add(key(sample));
    current.samples.push(sample);
  });
  for (const [name, m0] of meta) if (!byName.has(name) && m0.type === undefined) throw new Error(`line ${m0.line}: HELP of ${name} without a TYPE or a sample`);
  for (const f of families) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** Per series (labels but le): buckets by le ascending, cumulative, the last +Inf, equal to _count; a _sum. */
function checkHistogram(f: PromFamily): void {
  const series = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const k = key({ name: '', labels: rest });
    const one = series.get(k) ?? { buckets: [] };
    series.set(k, one);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`line ${s.line}: a bucket of ${f.name} without le`);
      one.buckets.push([parseValue(le, `line ${s.line}: le`), s.value]);
    } else if (s.name.endsWith('_sum')) one.sum = s.value;
    else one.count = s.value;
  }
  for (const [k, { buckets, sum, count }] of series) {
    const at = `${f.name}${k}`;
    if (sum === undefined || count === undefined) throw new Error(`${at}: a histogram without _sum or _count`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i][0] > buckets[i - 1][0])) throw new Error(`${at}: buckets not in le order`);
      if (buckets[i][1] < buckets[i - 1][1]) throw new Error(`${at}: bucket le=${buckets[i][0]} below the one before (not cumulative)`);
    }
    const last = buckets[buckets.length - 1];
    if (!last || last[0] !== Infinity) throw new Error(`${at}: no le="+Inf" bucket`);
    if (last[1] !== count) throw new Error(`${at}: le="+Inf" is ${last[1]}, _count ${count}`);
  }
}

/** Escapes a label value as the format has it, for a spec's own expectation. */
export const promLabelValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
