// Starts a real ovsdb-server in its own scratch folder for integration tests: Unix socket always,
// TCP and TLS (ovs-pki certificates) on request, on free ports. stop() kills it and waits until
// it is gone; restart() brings it back on the same socket paths and ports (new pid).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TlsFiles } from '../../src/ovsdb/remote';
import { portsBelowEphemeral } from './ports';

export const SCHEMAS = {
  nb: '/usr/share/ovn/ovn-nb.ovsschema',
  sb: '/usr/share/ovn/ovn-sb.ovsschema',
  vswitch: '/usr/share/openvswitch/vswitch.ovsschema',
} as const;

export interface OvsdbServerOptions {
  schema?: keyof typeof SCHEMAS;
  tcp?: boolean;
  ssl?: boolean;
  /** Use an existing database file instead of creating one. */
  dbFile?: string;
  /**
   * 'pidfile': no --unixctl, so the control socket is <dir>/ovsdb-server.<pid>.ctl (OVS_RUNDIR=dir),
   * found through <dir>/ovsdb-server.pid as in production. Default 'path' (--unixctl=<dir>/ovsdb-server.ctl).
   */
  unixctl?: 'path' | 'pidfile';
}

export interface OvsdbServer {
  dir: string;
  db: string;
  pidfile: string;
  /** The unixctl control socket of the running process (changes on restart with unixctl 'pidfile'). */
  readonly ctl: string;
  unix: string;
  tcp?: string;
  ssl?: string;
  /** Client-side key, certificate and CA, signed by the same ovs-pki CA as the server's. */
  tls?: TlsFiles;
  pid(): number;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and removes its folder. Safe to call twice. */
  destroy(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function poll(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function makePki(dir: string): { server: TlsFiles; client: TlsFiles } {
  const pki = join(dir, 'pki');
  execFileSync('ovs-pki', [`--dir=${pki}`, 'init'], { stdio: 'ignore' });
  for (const name of ['server', 'client']) {
    execFileSync('ovs-pki', [`--dir=${pki}`, 'req+sign', name, 'switch'], { cwd: dir, stdio: 'ignore' });
  }
  const ca = join(pki, 'switchca', 'cacert.pem');
  const files = (name: string): TlsFiles => ({
    privateKey: join(dir, `${name}-privkey.pem`),
    certificate: join(dir, `${name}-cert.pem`),
    caCert: ca,
  });
  return { server: files('server'), client: files('client') };
}

export async function startOvsdbServer(options: OvsdbServerOptions = {}): Promise<OvsdbServer> {
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-ovsdb-'));
  const db = options.dbFile ?? join(dir, `${options.schema ?? 'nb'}.db`);
  if (!options.dbFile) execFileSync('ovsdb-tool', ['create', db, SCHEMAS[options.schema ?? 'nb']]);
  const pidfile = join(dir, 'ovsdb-server.pid');
  const byPidfile = options.unixctl === 'pidfile';
  const ctlPath = () => (byPidfile ? join(dir, `ovsdb-server.${server.pid()}.ctl`) : join(dir, 'ovsdb-server.ctl'));
  const sock = join(dir, 'db.sock');
  const args = [
    '--detach',
    '--no-chdir',
    `--pidfile=${pidfile}`,
    `--log-file=${join(dir, 'ovsdb-server.log')}`,
    ...(byPidfile ? [] : [`--unixctl=${ctlPath()}`]),
    `--remote=punix:${sock}`,
  ];
  const server: OvsdbServer = {
    dir,
    db,
    pidfile,
    get ctl() {
      return ctlPath();
    },
    unix: `unix:${sock}`,
    pid: () => Number(readFileSync(pidfile, 'utf8').trim()),
    stop: async () => {
      if (!existsSync(pidfile)) return;
      const pid = server.pid();
      if (alive(pid)) process.kill(pid, 'SIGTERM');
      await poll(() => !alive(pid), `ovsdb-server ${pid} to exit`);
    },
    restart: async () => {
      await server.stop();
      await launch();
    },
    destroy: async () => {
      try {
        await server.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  // The remotes' ports are fixed before the start (restart() keeps them), and then checked to be held
  // by this ovsdb-server: a port another test's listener took first (an HTTP server, another
  // ovsdb-server) would answer our TLS hello in plain text, which CI once saw as "socket
  // disconnected before secure TLS connection was established" on every ssl test.
  const pki = options.ssl ? makePki(dir) : undefined;
  if (pki) {
    args.push(`--private-key=${pki.server.privateKey}`, `--certificate=${pki.server.certificate}`, `--ca-cert=${pki.server.caCert}`);
    server.tls = pki.client;
  }
  const remoteArgs = (): string[] => [
    ...(server.tcp ? [`--remote=p${server.tcp.replace(/^tcp:127\.0\.0\.1:(\d+)$/, 'tcp:$1:127.0.0.1')}`] : []),
    ...(server.ssl ? [`--remote=p${server.ssl.replace(/^ssl:127\.0\.0\.1:(\d+)$/, 'ssl:$1:127.0.0.1')}`] : []),
  ];
  const pickPorts = async (): Promise<void> => {
    const [tcpPort, sslPort] = await portsBelowEphemeral(2);
    if (options.tcp) server.tcp = `tcp:127.0.0.1:${tcpPort}`;
    if (options.ssl) server.ssl = `ssl:127.0.0.1:${sslPort}`;
  };
  const holdsPorts = (pid: number): boolean =>
    [server.tcp, server.ssl].every((remote) => {
      if (!remote) return true;
      const port = remote.slice(remote.lastIndexOf(':') + 1);
      return execFileSync('ss', ['-Hltnp', `sport = :${port}`]).toString().includes(`pid=${pid},`);
    });

  const launch = async (): Promise<void> => {
    rmSync(pidfile, { force: true });
    execFileSync('ovsdb-server', [...args, ...remoteArgs(), db], { stdio: 'ignore', env: { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir } });
    await poll(() => existsSync(pidfile) && existsSync(sock) && existsSync(ctlPath()), 'ovsdb-server sockets');
    const pid = server.pid();
    await poll(() => holdsPorts(pid), `ovsdb-server ${pid} to listen on ${[server.tcp, server.ssl].filter(Boolean).join(' and ')}`, 5_000);
  };
  const firstLaunch = async (): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      await pickPorts();
      try {
        return await launch();
      } catch (err) {
        await server.stop();
        if (attempt === 5 || !(server.tcp || server.ssl)) throw err;
      }
    }
  };
  try {
    await firstLaunch();
  } catch (err) {
    await server.destroy();
    throw err;
  }
  return server;
}

/** Runs ovn-nbctl against the server's Unix socket. */
export function nbctl(server: OvsdbServer, ...args: string[]): string {
  return execFileSync('ovn-nbctl', [`--db=${server.unix}`, ...args]).toString();
}
