// Runs the configured ovn-trace binary: an argument array handed to execve (never a shell), so a
// port name with quotes, backslashes or `$(…)` is data; a timeout that kills it; every failure a
// typed error naming the binary and what it printed on stderr.
import { execFile } from 'node:child_process';
import type { Microflow } from './microflow';

export interface OvnTraceOptions {
  binary: string;
  /** OVN_SB_DB (one remote or a comma-separated list). */
  db: string;
  tls?: { privateKey: string; certificate: string; caCert: string };
  /** false: accept any cluster member (this service only reads). */
  leaderOnly: boolean;
  timeoutMs: number;
}

export class OvnTraceUnavailableError extends Error {
  override readonly name = 'OvnTraceUnavailableError';
  constructor(
    readonly binary: string,
    readonly reason: string,
    readonly stderr: string,
  ) {
    super(`${binary}: ${reason}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-5).join(' | ')}` : ''}`);
  }
}

/** The argument array (after the binary) for one microflow. Options first, then `--`, so no name is read as an option. */
export function ovnTraceArgs(m: Microflow, o: Omit<OvnTraceOptions, 'binary' | 'timeoutMs'>): string[] {
  const args = [`--db=${o.db}`];
  if (o.tls) args.push('-p', o.tls.privateKey, '-c', o.tls.certificate, '-C', o.tls.caCert);
  if (!o.leaderOnly) args.push('--no-leader-only');
  args.push('--detailed');
  for (const ct of m.ctStates) args.push(`--ct=${ct}`);
  if (m.lbDst) args.push(`--lb-dst=${m.lbDst}`);
  args.push('--', m.datapath, m.expression);
  return args;
}

/** A copy-pastable shell rendering of binary + args (for humans; the service never runs it through a shell). */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export function runOvnTrace(binary: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      args,
      // env given explicitly: the binary is looked up on this process.env's PATH. Without it Node
      // uses the process's original environment, which under jest is not the test's (a pair's
      // wrappers put first on PATH by the test setup would be skipped for the host's ovn-trace).
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 << 20, encoding: 'utf8', windowsHide: true, env: process.env },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string; signal?: string | null };
        if (e.code === 'ENOENT') return reject(new OvnTraceUnavailableError(binary, 'not found (set LIVETRACE_OVN_TRACE)', ''));
        if (e.code === 'EACCES') return reject(new OvnTraceUnavailableError(binary, 'not executable', ''));
        if (e.killed && e.signal === 'SIGKILL') return reject(new OvnTraceUnavailableError(binary, `timed out after ${timeoutMs} ms`, stderr ?? ''));
        if (typeof e.code === 'number') return reject(new OvnTraceUnavailableError(binary, `exit status ${e.code}`, stderr ?? ''));
        if (e.signal) return reject(new OvnTraceUnavailableError(binary, `killed by ${e.signal}`, stderr ?? ''));
        reject(new OvnTraceUnavailableError(binary, e.message, stderr ?? ''));
      },
    );
  });
}
