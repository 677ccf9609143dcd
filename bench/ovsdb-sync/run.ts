/**
 * bench/ovsdb-sync driver (started by run.sh, which owns the ovsdb-server): runs every side
 * RUNS times, interleaved round by round, each in its own process under /usr/bin/time for its
 * peak RSS, and prints the table of medians with ratios against the raw read, the C dump and the
 * Python IDL.
 *
 *   node run.js --remote R --tables T.json --schema S.json --client client.js --runs 3
 *               [--results RESULTS.md] [--db FILE] [--python python_idl.py]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';

interface Args {
  remote: string;
  tables: string;
  schema: string;
  client: string;
  python: string;
  runs: number;
  results?: string;
  db?: string;
}

interface Sample {
  /** In-process time (connect → done) when the side reports one, else wall time. */
  seconds: number;
  wall: number;
  /** user + system CPU seconds of the whole process (/usr/bin/time). */
  cpu: number;
  /** Node sides: time from the last byte received to done (the client's own cost after the server). */
  tail?: number;
  /** Node sides: time from the reply's first byte to done. */
  span?: number;
  rssKb: number;
  bytes?: number;
  rows?: number;
}

interface Side {
  key: string;
  label: string;
  run(): Sample;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const need = (name: string) => get(name) ?? fail(`missing --${name}`);
  return {
    remote: need('remote'),
    tables: need('tables'),
    schema: need('schema'),
    client: need('client'),
    python: get('python') ?? join(__dirname, 'python_idl.py'),
    runs: Number(get('runs') ?? 3),
    results: get('results'),
    db: get('db'),
  };
}

function fail(msg: string): never {
  console.error(`run: ${msg}`);
  process.exit(2);
}

const tmp = mkdtempSync(join(os.tmpdir(), 'ovsdb-sync-time-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** Runs CMD under /usr/bin/time: wall seconds, peak RSS, stdout. */
function timed(cmd: string, args: string[]): { wall: number; cpu: number; rssKb: number; stdout: string } {
  const out = join(tmp, 'time.txt');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', '-o', out, cmd, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const [wall, rss, user, sys] = readFileSync(out, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { wall, cpu: user + sys, rssKb: rss, stdout: r.stdout };
}

function lastJson(stdout: string): Record<string, number> {
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
}

function nodeSide(mode: string, a: Args): Sample {
  const t = timed(process.execPath, [a.client, mode, a.remote, a.tables]);
  const j = lastJson(t.stdout);
  return { seconds: j.seconds, wall: t.wall, cpu: t.cpu, tail: j.tailSeconds, span: j.spanSeconds, rssKb: t.rssKb, bytes: j.bytes, rows: j.rows };
}

function pythonSide(a: Args): Sample {
  const t = timed('/usr/bin/python3', [a.python, a.remote, a.tables, a.schema]);
  const j = lastJson(t.stdout);
  return { seconds: j.seconds, wall: t.wall, cpu: t.cpu, rssKb: t.rssKb, rows: j.rows };
}

/** ovsdb-client dump of the same tables and columns: one dump per table (its syntax takes one table). */
function cDumpTables(a: Args, tables: Record<string, string[]>): Sample {
  let wall = 0;
  let cpu = 0;
  let rssKb = 0;
  for (const [table, columns] of Object.entries(tables)) {
    const t = timed('/bin/sh', ['-c', 'exec ovsdb-client dump "$@" >/dev/null', 'sh', a.remote, 'OVN_Southbound', table, ...columns]);
    wall += t.wall;
    cpu += t.cpu;
    rssKb = Math.max(rssKb, t.rssKb);
  }
  return { seconds: wall, wall, cpu, rssKb };
}

function cDumpWhole(a: Args): Sample {
  const t = timed('/bin/sh', ['-c', 'exec ovsdb-client dump "$@" >/dev/null', 'sh', a.remote, 'OVN_Southbound']);
  return { seconds: t.wall, wall: t.wall, cpu: t.cpu, rssKb: t.rssKb };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

interface Summary {
  key: string;
  label: string;
  seconds: number;
  wall: number;
  cpu: number;
  tail?: number;
  span?: number;
  rssMb: number;
  bytes?: number;
  rows?: number;
  all: number[];
}

function countLogicalFlows(a: Args): number {
  const r = spawnSync(
    'ovsdb-client',
    ['transact', a.remote, JSON.stringify(['OVN_Southbound', { op: 'select', table: 'Logical_Flow', where: [], columns: ['_uuid'] }])],
    { encoding: 'utf8', maxBuffer: 1 << 30 },
  );
  return (r.stdout.match(/"uuid"/g) ?? []).length;
}

function main(): void {
  const a = parseArgs(process.argv.slice(2));
  const tables = JSON.parse(readFileSync(a.tables, 'utf8')) as Record<string, string[]>;
  const sides: Side[] = [
    { key: 'raw', label: 'raw read (bytes only, Node)', run: () => nodeSide('raw', a) },
    { key: 'cdump', label: 'ovsdb-client dump, same tables (C)', run: () => cDumpTables(a, tables) },
    { key: 'cdumpall', label: 'ovsdb-client dump, whole DB (C)', run: () => cDumpWhole(a) },
    { key: 'python', label: 'Python IDL (ovs.db.idl)', run: () => pythonSide(a) },
    { key: 'naive', label: 'naive Node (concat + JSON.parse)', run: () => nodeSide('naive', a) },
    { key: 'wire', label: 'ours, wire (syncInitial)', run: () => nodeSide('wire', a) },
    { key: 'replica', label: 'ours, replica (decoded + indexes)', run: () => nodeSide('replica', a) },
  ];
  const lflows = countLogicalFlows(a);
  const samples = new Map<string, Sample[]>(sides.map((s) => [s.key, []]));
  for (let round = 1; round <= a.runs; round++) {
    for (const side of sides) {
      const s = side.run();
      samples.get(side.key)!.push(s);
      console.error(`round ${round}: ${side.key.padEnd(8)} ${s.seconds.toFixed(3)} s, ${(s.rssKb / 1024).toFixed(0)} MB`);
    }
  }
  const sum: Summary[] = sides.map((side) => {
    const ss = samples.get(side.key)!;
    return {
      key: side.key,
      label: side.label,
      seconds: median(ss.map((s) => s.seconds)),
      wall: median(ss.map((s) => s.wall)),
      cpu: median(ss.map((s) => s.cpu)),
      tail: ss[0].tail === undefined ? undefined : median(ss.map((s) => s.tail ?? 0)),
      span: ss[0].span === undefined ? undefined : median(ss.map((s) => s.span ?? 0)),
      rssMb: Math.max(...ss.map((s) => s.rssKb)) / 1024,
      bytes: ss[0].bytes,
      rows: ss[0].rows,
      all: ss.map((s) => s.seconds),
    };
  });
  const by = (k: string) => sum.find((s) => s.key === k)!;
  const raw = by('raw');
  const cdump = by('cdump');
  const py = by('python');
  // Per-round ratios: each side against the raw read and the Python IDL of its own round, so that
  // the server's drift between rounds (its reply takes 4-6 s to build) cancels out.
  const paired = (k: string, ref: string, f: (side: number, r: number) => number) =>
    median(samples.get(k)!.map((s, i) => f(s.seconds, samples.get(ref)![i].seconds)));
  const lines: string[] = [];
  const dbBytes = a.db ? statSync(a.db).size : 0;
  lines.push(
    `Southbound: ${lflows} Logical_Flow rows; ${by('wire').rows ?? '?'} rows in the monitored tables; ` +
      `monitor reply ${((raw.bytes ?? 0) / 1e6).toFixed(1)} MB; db file ${(dbBytes / 1e6).toFixed(1)} MB; remote ${a.remote.split(':')[0]}`,
  );
  lines.push(`Median of ${a.runs} runs; RSS = highest peak over the runs. Node/Python time: in-process, connect → done; C: process wall time.`);
  lines.push('');
  lines.push(
    'Tail = time from the last byte received to done (Node sides): the client\'s own cost once the server has sent everything.',
  );
  lines.push('');
  lines.push(
    'Span = time from the reply\'s first byte to done: the server\'s composing (raw time minus raw span) is the same for ' +
      'every side, so "vs raw (span)" = (raw - raw span + span) / raw compares what the clients add. With rows streamed ' +
      'the tail is near zero and the parsing shows in the span.',
  );
  lines.push('');
  lines.push('"paired" = median over rounds of the ratio within one round (the sides of a round run back to back).');
  lines.push('');
  lines.push('| side | time s | vs raw | vs raw (paired) | vs raw (span) | vs C dump | Python / side | Python / side (paired) | peak RSS MB | CPU s | span s | tail s | wall s | runs s |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const s of sum) {
    const spanRatio = s.span === undefined ? '' : `${((raw.seconds - (raw.span ?? 0) + s.span) / raw.seconds).toFixed(2)}x`;
    lines.push(
      `| ${s.label} | ${s.seconds.toFixed(2)} | ${(s.seconds / raw.seconds).toFixed(2)}x | ${paired(s.key, 'raw', (x, r) => x / r).toFixed(2)}x | ` +
        `${spanRatio} | ${(s.seconds / cdump.seconds).toFixed(2)}x | ` +
        `${(py.seconds / s.seconds).toFixed(1)}x | ${paired(s.key, 'python', (x, p) => p / x).toFixed(2)}x | ${s.rssMb.toFixed(0)} | ${s.cpu.toFixed(2)} | ${s.span === undefined ? '' : s.span.toFixed(2)} | ${s.tail === undefined ? '' : s.tail.toFixed(2)} | ` +
        `${s.wall.toFixed(2)} | ${s.all.map((x) => x.toFixed(2)).join(' ')} |`,
    );
  }
  lines.push('');
  const check = (name: string, s: Summary) => {
    const t = [
      [`within 1.2x of raw read`, s.seconds <= 1.2 * raw.seconds, `${(s.seconds / raw.seconds).toFixed(2)}x`],
      [
        `within 1.2x of raw read by span`,
        raw.seconds - (raw.span ?? 0) + (s.span ?? 0) <= 1.2 * raw.seconds,
        `${((raw.seconds - (raw.span ?? 0) + (s.span ?? 0)) / raw.seconds).toFixed(2)}x`,
      ],
      [`faster than the C dump (same tables)`, s.seconds < cdump.seconds, `${s.seconds.toFixed(2)} vs ${cdump.seconds.toFixed(2)} s`],
      [`faster than the C dump (whole DB)`, s.seconds < by('cdumpall').seconds, `${s.seconds.toFixed(2)} vs ${by('cdumpall').seconds.toFixed(2)} s`],
      [`within 1.2x of raw read (paired)`, paired(s.key, 'raw', (x, r) => x / r) <= 1.2, `${paired(s.key, 'raw', (x, r) => x / r).toFixed(2)}x`],
      [`>= 4x faster than Python IDL`, py.seconds / s.seconds >= 4, `${(py.seconds / s.seconds).toFixed(1)}x`],
      [`>= 4x faster than Python IDL (paired)`, paired(s.key, 'python', (x, p) => p / x) >= 4, `${paired(s.key, 'python', (x, p) => p / x).toFixed(2)}x`],
      [`peak RSS < half of Python's`, s.rssMb < py.rssMb / 2, `${s.rssMb.toFixed(0)} vs ${py.rssMb.toFixed(0)} MB`],
    ];
    lines.push(`Targets, ${name}: ${t.map(([what, ok, v]) => `${what}: ${ok ? 'met' : 'MISSED'} (${v})`).join('; ')}`);
  };
  check('ours (wire)', by('wire'));
  check('ours (replica)', by('replica'));
  const text = lines.join('\n');
  console.log(text);
  if (a.results) writeFileSync(a.results, `${text}\n`);
}

main();
