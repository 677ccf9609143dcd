// Issue 19's three chassis on one host (scripts/ovn-sandbox --chassis 3, multi-topology: lsp1@hv1,
// lsp2@hv2 on sw0, lsp3@hv3 behind lr0, a to-lport ACL dropping TCP/80 to lsp2), with one agent per
// chassis and an api instance as real processes, and the steps every test of it takes: send a
// packet from lsp1, wait for its path to be whole across chassis, create sessions through the api.
// The store is the caller's: one SQLite file (test/e2e/multi-chassis) or PostgreSQL with a spool per
// process (test/postgres/multi-chassis); the checks both pass are test/support/three-chassis-checks.ts.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Child, spawnService } from './app';
import { SANDBOX_SCRIPT } from './sandbox';
import { waitFor } from './wait';
import { portBelowEphemeral } from './ports';

const run = promisify(execFile);

export const ICMP_SAME = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)';
export const ICMP_ROUTED = 'eth(src=50:54:00:00:00:01,dst=00:00:00:00:ff:01),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.1.3,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)';
export const TCP_80 = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=40000,dst=80),tcp_flags(syn)';

export interface Trace { id: number; chassis: string; pathId: number; verdict: { tunnels?: Array<{ remoteIp: string; chassis?: string | null }> }; logicalPorts?: Array<{ name: string; role: string }>; arrivedFrom?: { traceId: number; chassis: string } }
export interface Path {
  passes: Array<{ id: number; chassis: string; pathId: number }>;
  verdict: { kinds: string[]; logicalPorts: string[]; chassis: string; incomplete: boolean; logicalFlow: string | null; northbound: { table: string; uuid: string } | null; tunnels: Array<{ remoteChassis: string; toTraceId: number | null; fromTraceId: number; provisional?: true }>; provisional?: true; provisionalReason?: string; localnetHops?: Array<{ fromChassis: string; fromTraceId: number; port: string; network: string | null; vlan: number | null; toChassis: string | null; toTraceId: number | null; copies?: Array<{ chassis: string; traceId: number }> }> };
}
export interface Stats { selected: number; stored: number }
export interface Session { id: number; state: string; onChassis: string[] | null; stats: Stats; perChassis: Record<string, Stats> }
export interface Sent { pathId: number; receiver: string; after: number }

/** The store part of a process's environment: `name` is the process (agent-hv1, api, …), `dir` the sandbox's folder. */
export type StoreEnv = (dir: string, name: string) => Record<string, string>;

export class ThreeChassis {
  readonly children: Child[] = [];
  /** Agent of hvN on base+N, the api instance on base+9. */
  readonly base = portBelowEphemeral(10);
  readonly api = `http://127.0.0.1:${this.base + 9}`;

  private constructor(readonly dir: string, private readonly store: StoreEnv) {}

  /** The sandbox with its topology (stopped again if a step fails: the caller's afterAll never sees it). */
  static async start(prefix: string, store: StoreEnv): Promise<ThreeChassis> {
    const t = new ThreeChassis(mkdtempSync(join(tmpdir(), prefix)), store);
    try {
      await t.sandbox('start', '--chassis', '3', '--pair', process.env.LIVETRACE_PAIR ?? 'debian12');
      await t.sandbox('multi-topology');
    } catch (e) {
      await t.stop();
      throw e;
    }
    return t;
  }

  async sandbox(cmd: string, ...args: string[]): Promise<string> {
    return (await run(SANDBOX_SCRIPT, [cmd, this.dir, ...args], { maxBuffer: 64 << 20 })).stdout;
  }

  /** The service's environment for chassis `hv` (its OVS database and vswitchd, the central NB/SB). */
  async envOf(hv: number): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const line of (await this.sandbox('env', '--chassis', String(hv))).split('\n')) {
      const m = /^export (\w+)=(.*)$/.exec(line);
      if (m && m[1] !== 'PATH') out[m[1]] = m[2];
    }
    return out;
  }

  /** A service process `name` on chassis `hv`'s environment, answering on `port`. */
  async service(name: string, hv: number, port: number, env: Record<string, string>): Promise<Child> {
    const child = spawnService({
      ...(await this.envOf(hv)),
      ...this.store(this.dir, name),
      LIVETRACE_PORT: String(port),
      LIVETRACE_LOG_LEVEL: 'warn',
      LIVETRACE_POLL_INTERVAL_MS: '200',
      ...env,
    });
    this.children.push(child);
    const up = await waitFor(
      `${name} on port ${port}`,
      async () => (child.proc.exitCode !== null ? 'exited' : (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined))?.ok && 'up'),
      120_000,
    );
    if (up === 'exited') throw new Error(`${name} exited with ${child.proc.exitCode}: ${child.stderr().slice(-2000)}`);
    return child;
  }

  /** One agent per chassis (one after the other: the first creates the schema), then the api instance (on hv1's environment, no agent). */
  async startServices(): Promise<void> {
    for (const hv of [1, 2, 3]) await this.service(`agent-hv${hv}`, hv, this.base + hv, { LIVETRACE_ROLE: 'agent' });
    await this.service('api', 1, this.base + 9, { LIVETRACE_ROLE: 'api' });
  }

  async get<T>(url: string): Promise<T> {
    const res = await fetch(`${this.api}${url}`);
    if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /**
   * Sends one packet from vif1 on hv1 (`receiver`'s megaflows purged first) and waits for its pass
   * on hv1 and a new pass on `receiver`,
   * then purges hv1's megaflows so the next packet is upcalled (and traced) too. Purged only then:
   * the sender's flow lives until the receiver's agent has seen its own, so the two lifetimes
   * overlap however late a loaded host's poller is (else the link's skew window can miss it).
   */
  async send(flow: string, receiver = 'hv2'): Promise<Sent> {
    const newest = async (chassis: string) => (await this.get<{ items: Trace[] }>(`/traces?chassis=${chassis}&limit=1`)).items[0]?.id ?? 0;
    const before = (await this.get<{ items: Trace[] }>('/traces?chassis=hv1')).items.map((t) => t.id);
    const after = await newest(receiver);
    // The receiver's megaflow of an earlier packet like this one would carry it unseen.
    await this.sandbox('ctl', '--chassis', receiver.slice(2), 'revalidator/purge');
    const port = /\bvif1 \d+\/(\d+)/.exec(await this.sandbox('ctl', '--chassis', '1', 'dpif/show'))![1];
    await this.sandbox('inject', '--chassis', '1', 'vif1', `in_port(${port}),${flow}`);
    try {
      const sent = await waitFor('the pass on hv1', async () =>
        (await this.get<{ items: Trace[] }>('/traces?chassis=hv1')).items.find((t) => !before.includes(t.id) && t.verdict.tunnels?.length),
      );
      await waitFor(`a new pass on ${receiver}`, async () => (await newest(receiver)) > after || undefined);
      return { pathId: sent.pathId, receiver, after };
    } finally {
      await this.sandbox('ctl', '--chassis', '1', 'revalidator/purge');
    }
  }

  /**
   * The path once its receiving chassis's pass of this packet is linked. The receiver's agent writes
   * on its own time: until its arrival of this packet is stored, the link can only find an older
   * arrival that fits the sender's megaflow as well (hv1's same-switch megaflow wildcards the IP
   * protocol, so the earlier ICMP arrival fits the TCP packet), and answers that. A new pass on the
   * receiver (send()'s wait) is not enough: the outer packet's own pass (br-phys, tnl_pop) can be
   * stored a poll round before the inner arrival (CI on debian13 linked the TCP packet to the ICMP
   * arrival so). The hop into the receiver must name a pass stored after the send, and the receiver's
   * agent must have stored everything up to where a later arrival could still be linked instead
   * (not `provisional`: src/paths/provisional.ts).
   */
  async whole(sent: Sent): Promise<Path> {
    let last: Path | undefined;
    try {
      return await waitFor(`path ${sent.pathId} across chassis`, async () => {
        const p = (last = await this.get<Path>(`/paths/${sent.pathId}`));
        const linked = p.verdict.tunnels?.length && p.verdict.tunnels.every((t) => t.toTraceId !== null && (t.remoteChassis !== sent.receiver || t.toTraceId > sent.after));
        return linked && !p.verdict.incomplete && !p.verdict.provisional ? p : undefined;
      });
    } catch (e) {
      // What the link saw: the passes and the receiving chassis's newest passes (their datapath flows' times).
      const recent = await this.get<{ items: Array<Trace & { createdAt?: string; ufid?: string }> }>(`/traces?chassis=${sent.receiver}&limit=3`).catch(() => undefined);
      throw new Error(
        `${(e as Error).message}\n  last answer: passes ${JSON.stringify(last?.passes.map((x) => [x.id, x.chassis]))}, verdict ${JSON.stringify(last?.verdict)}` +
          `\n  newest on ${sent.receiver}: ${JSON.stringify(recent?.items.map((t) => ({ id: t.id, pathId: t.pathId, createdAt: t.createdAt, ufid: t.ufid })))}`,
      );
    }
  }

  /**
   * The sessions every three-chassis test reads, created through the api after the agents started:
   * everything (ip), lsp1's, and lsp1's narrowed to hv1; returned once each chassis named took them up
   * (stored centrally by the api instance, polled from the store by each agent).
   */
  async startSessions(): Promise<{ everything: Session; ofLsp1: Session; ofLsp1OnHv1: Session }> {
    const everything = await this.createSession({ filter: 'ip', durationSeconds: 3600, maxTraces: 1000 });
    const ofLsp1 = await this.createSession({ logicalPort: 'lsp1', durationSeconds: 3600 });
    await this.takenUp(everything.id, ['hv1', 'hv2', 'hv3']);
    const ofLsp1OnHv1 = await this.createSession({ logicalPort: 'lsp1', chassis: 'hv1', durationSeconds: 3600 });
    await this.takenUp(ofLsp1.id, ['hv1', 'hv2', 'hv3']);
    await this.takenUp(ofLsp1OnHv1.id, ['hv1']);
    return { everything, ofLsp1, ofLsp1OnHv1 };
  }

  async createSession(body: object): Promise<Session> {
    const res = await fetch(`${this.api}/trace-sessions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status !== 201) throw new Error(`POST /trace-sessions: ${res.status} ${await res.text()}`);
    return (await res.json()) as Session;
  }

  /** Waits until these chassis's agents took the session up (each writes its counters row then). */
  takenUp(id: number, chassis: string[]): Promise<Session> {
    return waitFor(`session ${id} on ${chassis.join(', ')}`, async () => {
      const s = await this.get<Session>(`/trace-sessions/${id}`);
      return chassis.every((c) => s.perChassis[c]) ? s : undefined;
    });
  }

  /** The northbound UUID of the topology's one drop ACL (TCP/80 to lsp2). */
  async dropAcl(): Promise<string> {
    return (await run('ovn-nbctl', [`--db=unix:${this.dir}/ovnnb_db.sock`, '--bare', '--columns=_uuid', 'find', 'ACL', 'action=drop'])).stdout.trim();
  }

  async stopService(child: Child): Promise<void> {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGTERM');
    await child.exit;
  }

  /** Every service, then the sandbox; the folder is removed unless LIVETRACE_KEEP_SANDBOX. */
  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => this.stopService(c)));
    await run(SANDBOX_SCRIPT, ['stop', this.dir]).catch(() => undefined);
    if (!process.env.LIVETRACE_KEEP_SANDBOX) rmSync(this.dir, { recursive: true, force: true });
  }
}
