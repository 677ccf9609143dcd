// A real single-host OVN for integration and e2e tests, driven through scripts/ovn-sandbox.
// Every sandbox gets its own mkdtemp folder, so tests and helpers can run several side by side;
// stop() is idempotent and is registered by useSandbox() in afterAll, so a failing test never
// leaves daemons behind.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { dpifShowPortNumbers } from '../../src/ovs/trace-compare';

const run = promisify(execFile);
export const SANDBOX_SCRIPT = resolve(__dirname, '../../scripts/ovn-sandbox');

export interface SandboxEnv {
  OVS_RUNDIR: string;
  OVN_RUNDIR: string;
  OVN_NB_DB: string;
  OVN_SB_DB: string;
  OVS_DB: string;
  [key: string]: string;
}

export class Sandbox {
  private stopped = false;
  readonly env: SandboxEnv;

  private constructor(readonly dir: string, env: SandboxEnv) {
    this.env = env;
  }

  static async start(opts: { tcp?: boolean; prefix?: string } = {}): Promise<Sandbox> {
    const dir = mkdtempSync(join(tmpdir(), opts.prefix ?? 'livetrace-sb-'));
    const sb = new Sandbox(dir, {} as SandboxEnv);
    try {
      await sb.script('start', ...(opts.tcp ? ['--tcp'] : []));
      const { stdout } = await run(SANDBOX_SCRIPT, ['env', dir]);
      for (const line of stdout.split('\n')) {
        const m = /^export (\w+)=(.*)$/.exec(line);
        // PATH (a pair's tools) is already first on the tests' PATH (test/support/pair-setup.ts).
        if (m && m[1] !== 'PATH') sb.env[m[1]] = m[2];
      }
    } catch (err) {
      await sb.stop();
      throw err;
    }
    return sb;
  }

  /** tcp:127.0.0.1:PORT remotes, when started with {tcp: true}. */
  tcpRemote(db: 'nb' | 'sb'): string {
    return readFileSync(join(this.dir, `${db}.tcp`), 'utf8').trim();
  }

  vswitchdCtl(): string {
    const pid = readFileSync(join(this.dir, 'ovs-vswitchd.pid'), 'utf8').trim();
    return join(this.dir, `ovs-vswitchd.${pid}.ctl`);
  }

  async script(...args: string[]): Promise<string> {
    const [cmd, ...rest] = args;
    const { stdout } = await run(SANDBOX_SCRIPT, [cmd, this.dir, ...rest], { maxBuffer: 64 << 20 });
    return stdout;
  }

  /** ovs-appctl against this sandbox's ovs-vswitchd. */
  appctl(...args: string[]): Promise<string> {
    return this.script('ctl', ...args);
  }

  async tool(bin: string, ...args: string[]): Promise<string> {
    const { stdout } = await run(bin, args, { env: { ...process.env, ...this.env }, maxBuffer: 256 << 20 });
    return stdout;
  }

  nbctl(...args: string[]): Promise<string> {
    return this.tool('ovn-nbctl', '--no-leader-only', ...args);
  }

  sbctl(...args: string[]): Promise<string> {
    return this.tool('ovn-sbctl', '--no-leader-only', ...args);
  }

  vsctl(...args: string[]): Promise<string> {
    return this.tool('ovs-vsctl', `--db=${this.env.OVS_DB}`, ...args);
  }

  demoTopology(): Promise<string> {
    return this.script('demo-topology');
  }

  /**
   * Bridge brx beside br-int with dummy ports xp1 and xp2: NORMAL, no OVN, no recirculation, so a
   * packet makes one datapath flow whose actions stay the same when it is installed again.
   */
  plainBridge(datapathType: 'netdev' | 'system'): Promise<string> {
    return this.vsctl('add-br', 'brx', '--', 'set', 'bridge', 'brx', `datapath_type=${datapathType}`,
      '--', 'add-port', 'brx', 'xp1', '--', 'set', 'interface', 'xp1', 'type=dummy',
      '--', 'add-port', 'brx', 'xp2', '--', 'set', 'interface', 'xp2', 'type=dummy');
  }

  /**
   * The demo topology plus a load balancer and a port-group ACL on sw0, so that annotation hints
   * cover LB and ACL rows too (the correlation test and bench/annotate use the same set-up).
   */
  async hintTopology(): Promise<void> {
    await this.demoTopology();
    await this.nbctl('lb-add', 'lb0', '10.0.0.100:80', '10.0.0.2:80', 'tcp');
    await this.nbctl('ls-lb-add', 'sw0', 'lb0');
    await this.nbctl('pg-add', 'pg_web', 'lsp2', 'lsp3');
    await this.nbctl('acl-add', 'pg_web', 'to-lport', '1001', 'outport == @pg_web && ip4', 'allow-related');
    await this.nbctl('--wait=hv', 'sync');
  }

  bind(lsp: string, iface: string, ofport: number): Promise<string> {
    return this.script('bind', lsp, iface, String(ofport));
  }

  restartVswitchd(): Promise<string> {
    return this.script('restart-vswitchd');
  }

  /**
   * Flows stay installed for `ms` idle (other_config:max-idle) instead of vswitchd's 10 s. The
   * poller sees a flow only if a dump comes while it is installed, and it stretches its interval to
   * 20 times a dump's time (LIVETRACE_POLL_MAX_SHARE 0.05): on a loaded host (CI's lanes, load 6-9
   * on 2 cores) a dump of half a second spaces dumps 10 s apart, and a packet injected once makes
   * flows that idle out before any dump lists them, so never traced (debian13 CI: trace-reader
   * timed out waiting for its traces). A spec that injects once and waits for what those flows give
   * calls this first. (The poller now caps its wait at half of max-idle, src/collectors/poll-interval.ts;
   * this keeps such specs independent of a dump's wall time altogether.)
   */
  keepFlows(ms = 600_000): Promise<string> {
    return this.vsctl('set', 'open_vswitch', '.', `other_config:max-idle=${ms}`);
  }

  /** Datapath port numbers by interface name (dpif/show): what `in_port(N)` of an injected flow needs. */
  async dpPorts(): Promise<Map<string, number>> {
    return dpifShowPortNumbers(await this.appctl('dpif/show'));
  }

  inject(iface: string, odpFlow: string, count = 1): Promise<string> {
    return this.script('inject', iface, odpFlow, String(count));
  }

  /** Names of this sandbox's daemons that are still alive. */
  async running(): Promise<string[]> {
    const out = await run(SANDBOX_SCRIPT, ['status', this.dir]);
    return out.stdout
      .split('\n')
      .filter((l) => l.endsWith(' running'))
      .map((l) => l.split(' ')[0]);
  }

  async stop(opts: { keepDir?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await run(SANDBOX_SCRIPT, ['stop', this.dir]).catch(() => undefined);
    if (!opts.keepDir && !process.env.LIVETRACE_KEEP_SANDBOX) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A file of the OVS/OVN pair under test (LIVETRACE_PAIR) as Node sees it: `/usr/share/ovn/ovn-sb.ovsschema`
 * is the host's for Debian 12 and lives under the pair's Debian root for the others.
 */
export function pairFile(path: string): string {
  const pair = process.env.LIVETRACE_PAIR ?? 'debian12';
  const root = execFileSync(resolve(__dirname, '../../scripts/ovn-root'), ['path', pair], { encoding: 'utf8' }).trim();
  return root === '/' ? path : join(root, path);
}
