// Shared by the bench/live scripts: CPU of ovs-vswitchd from /proc (whole process and its main
// thread, which is the one that answers unixctl), our own RSS, small statistics, and the replayed
// dump built from the captured fixtures (as bench/parse does).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { CAPTURED, capturedDumpLines } from '../captured';

export const ROOT = resolve(__dirname, '../..');
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || '100');

export interface Cpu {
  /** utime+stime of the whole process (all threads), ms. */
  processMs: number;
  /** utime+stime of the main thread (tid = pid), ms: unixctl, OpenFlow, OVSDB, non-pmd ports. */
  mainMs: number;
  at: number;
}

function statMs(path: string): number {
  const text = readFileSync(path, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

export function cpuOf(pid: number): Cpu {
  return { processMs: statMs(`/proc/${pid}/stat`), mainMs: statMs(`/proc/${pid}/task/${pid}/stat`), at: performance.now() };
}

export function cpuDelta(a: Cpu, b: Cpu): { processMs: number; mainMs: number; wallMs: number } {
  return { processMs: b.processMs - a.processMs, mainMs: b.mainMs - a.mainMs, wallMs: b.at - a.at };
}

export function vswitchdPid(dir: string): number {
  return Number(readFileSync(join(dir, 'ovs-vswitchd.pid'), 'utf8').trim());
}

export function vswitchdCtl(dir: string): string {
  return join(dir, `ovs-vswitchd.${vswitchdPid(dir)}.ctl`);
}

export function rssMb(): { rssMb: number; peakMb: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function loadLine(): string {
  const [l1] = readFileSync('/proc/loadavg', 'utf8').split(' ');
  return `load ${l1}`;
}

/** The last line a bench script prints is its JSON result (run.sh collects them). */
export function emit(result: object): void {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

export function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through bench/live/run.sh)`);
  return v;
}


/**
 * `flows` dump lines made of the real captured lines, each with a fresh UFID and its endpoint
 * addresses varied (bench/parse's recipe), split between the main thread and one pmd.
 * Returned as lines so the replay server can bump counters between dumps.
 */
export function replayLines(flows: number): { header: string; pmdHeader: string; lines: string[]; base: number } {
  const base = capturedDumpLines();
  if (!base.length) throw new Error(`no captured dump lines under ${CAPTURED}`);
  const lines: string[] = [];
  for (let i = 0; i < flows; i++) {
    const hex = i.toString(16).padStart(12, '0');
    const a = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const mac = `50:54:00:${hex.slice(6, 8)}:${hex.slice(8, 10)}:${hex.slice(10, 12)}`;
    lines.push(
      base[i % base.length]
        .replace(/^ufid:[0-9a-f-]{36}/, `ufid:${hex.slice(0, 8)}-0000-4000-8000-${hex}`)
        .replace(/=10\.0\.0\.1(?=[/,)])/g, `=${a}`)
        .replace(/src=50:54:00:00:00:01/g, `src=${mac}`),
    );
  }
  return { header: 'flow-dump from the main thread:', pmdHeader: 'flow-dump from pmd on cpu core: 1', lines, base: base.length };
}
