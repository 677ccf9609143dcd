// The connection to this chassis's ovs-vswitchd control socket, shared by the poller and the
// tracer (one request in flight: the daemon reads the next only after replying). It notices a
// restart (new pid, new socket) and tells the others, since every UFID, recirculation id and
// datapath port number of the old instance is then meaningless.
import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { DpifDatapath, parseDpifShow } from '../ovs/dpif-show';
import { UnixctlClient, UnixctlError } from '../unixctl/client';

export interface VswitchdStatus {
  socket: string | null;
  pid: number | null;
  connected: boolean;
  detrace: boolean;
  restarts: number;
  lastError: string | null;
}

@Injectable()
export class VswitchdService extends EventEmitter<{ restarted: [pid: number] }> implements OnApplicationShutdown {
  private readonly log = new Logger('Vswitchd');
  readonly client: UnixctlClient;
  private pid: number | null = null;
  private dp: DpifDatapath | null = null;
  private dpAt = 0;
  private hasDetrace = false;
  private restarts = 0;
  private lastError: string | null = null;

  constructor(@Inject(LIVETRACE_CONFIG) config: LivetraceConfig) {
    super();
    this.client = new UnixctlClient({
      target: config.LIVETRACE_VSWITCHD_CTL || 'ovs-vswitchd',
      rundir: config.OVS_RUNDIR,
      timeoutMs: 30_000,
    });
  }

  onApplicationShutdown(): void {
    this.client.close();
  }

  /** Runs a command, noting the daemon's pid (a new pid = a restart) and the last error. */
  async call(command: string, args: string[] = [], timeoutMs?: number): Promise<string> {
    return (await this.callServed(command, args, timeoutMs)).text;
  }

  /**
   * As call(), with the pid of the process that answered (null: a socket path given, no pidfile):
   * a reply read across a restart is the old process's even once the new one is noted.
   */
  async callServed(command: string, args: string[] = [], timeoutMs?: number): Promise<{ text: string; pid: number | null }> {
    try {
      const out = await this.client.callServed(command, args, { timeoutMs });
      this.lastError = null;
      await this.notePid();
      return { text: out.text, pid: out.socket.pid ?? null };
    } catch (err) {
      // The daemon answered (with an error of its own): it is there, note which instance.
      if (err instanceof UnixctlError) await this.notePid();
      else this.lastError = (err as Error).message;
      throw err;
    }
  }

  private instance: string | null = null;

  private async notePid(): Promise<void> {
    const sock = this.client.currentSocket;
    if (!sock) return;
    // An explicit socket path has no pidfile: a new connection stands for a possible new instance.
    const pid = sock.pid ?? null;
    const instance = pid !== null ? `pid:${pid}` : `conn:${this.client.connectCount}`;
    if (instance === this.instance) return;
    const first = this.instance === null;
    this.instance = instance;
    this.pid = pid;
    this.dp = null;
    this.hasDetrace = await this.client.has('ofproto/detrace').catch(() => false);
    if (!first && pid !== null) {
      this.restarts++;
      this.log.warn(`ovs-vswitchd restarted (pid ${pid}): every datapath flow of the old instance is gone`);
      this.emit('restarted', pid);
    }
  }

  get currentPid(): number | null {
    return this.pid;
  }

  get detrace(): boolean {
    return this.hasDetrace;
  }

  /** The datapath of the integration bridge (port names ↔ numbers), refreshed every 10 s. */
  async datapath(bridge = 'br-int', maxAgeMs = 10_000): Promise<DpifDatapath | null> {
    if (this.dp && Date.now() - this.dpAt < maxAgeMs) return this.dp;
    const show = parseDpifShow(await this.call('dpif/show'));
    this.dp = show.datapaths.find((d) => d.bridges.some((b) => b.name === bridge)) ?? show.datapaths[0] ?? null;
    this.dps = show.datapaths;
    this.dpAt = Date.now();
    return this.dp;
  }

  private dps: DpifDatapath[] = [];

  /**
   * Every datapath of this vswitchd (a host may have a kernel and a userspace one), the integration
   * bridge's first: as fresh as datapath().
   */
  async datapaths(bridge = 'br-int'): Promise<DpifDatapath[]> {
    const first = await this.datapath(bridge);
    return first ? [first, ...this.dps.filter((d) => d.name !== first.name)] : [];
  }

  invalidateDatapath(): void {
    this.dp = null;
  }

  status(): VswitchdStatus {
    const sock = this.client.currentSocket;
    return {
      socket: sock?.path ?? null,
      pid: this.pid,
      connected: !!sock,
      detrace: this.hasDetrace,
      restarts: this.restarts,
      lastError: this.lastError,
    };
  }
}
