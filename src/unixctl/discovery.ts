// Finds a daemon's control socket the way `ovs-appctl -t TARGET` does (utilities/ovs-appctl.c):
// an absolute path is the socket itself; anything else is a daemon name whose pid is read from
// <rundir>/<name>.pid, and the socket is <rundir>/<name>.<pid>.ctl.
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

export class UnixctlDiscoveryError extends Error {
  constructor(
    readonly target: string,
    readonly detail: string,
  ) {
    super(`cannot find the control socket of "${target}": ${detail}`);
    this.name = 'UnixctlDiscoveryError';
  }
}

export interface DiscoveryEnv {
  OVS_RUNDIR?: string;
  OVN_RUNDIR?: string;
}

/** ovn-* daemons live under OVN_RUNDIR (default /var/run/ovn), the rest under OVS_RUNDIR. */
export function defaultRundir(daemon: string, env: DiscoveryEnv = process.env): string {
  return daemon.startsWith('ovn-')
    ? env.OVN_RUNDIR || '/var/run/ovn'
    : env.OVS_RUNDIR || '/var/run/openvswitch';
}

/** A short name for messages: "ovs-vswitchd", or the socket's file name for a path target. */
export function daemonName(target: string): string {
  if (!target.startsWith('/')) return target;
  return basename(target).replace(/(\.\d+)?\.ctl$/, '');
}

export interface ResolvedSocket {
  path: string;
  /** The pid read from the pidfile; undefined for an absolute socket path. */
  pid?: number;
}

export async function resolveUnixctlSocket(target: string, rundir?: string, env?: DiscoveryEnv): Promise<ResolvedSocket> {
  if (!target) throw new UnixctlDiscoveryError(target, 'empty target');
  if (target.startsWith('/')) return { path: target };
  const dir = rundir ?? defaultRundir(target, env);
  const pidfile = join(dir, `${target}.pid`);
  let text: string;
  try {
    text = await readFile(pidfile, 'utf8');
  } catch (err) {
    throw new UnixctlDiscoveryError(target, `cannot read pidfile ${pidfile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new UnixctlDiscoveryError(target, `pidfile ${pidfile} holds "${text.trim().slice(0, 40)}", not a pid`);
  }
  return { path: join(dir, `${target}.${pid}.ctl`), pid };
}

/** Parses `list-commands` output ("The available commands are:" then "  name  args" lines). */
export function parseListCommands(text: string): Map<string, string> {
  const commands = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s+(\S+)\s*(.*)$/.exec(line);
    if (m) commands.set(m[1], m[2].trim());
  }
  return commands;
}
