// ovs-vswitchd's vlog levels the log source needs (LIVETRACE_VLOG_SET_LEVELS): the upcall, flow_add
// and put lines it reads are debug messages, which vswitchd does not log by default. The module that
// logs them (dpif_netdev on the userspace datapath, dpif on the kernel's) is set to dbg on the
// destinations the source reads (file, syslog), and each level it had is put back on shutdown.
import type { Logger } from '@nestjs/common';
import type { VswitchdService } from './vswitchd.service';

export class VlogLevels {
  /** Levels before we raised them, to put back on shutdown. */
  private before: Array<{ module: string; destination: string; level: string }> = [];

  constructor(
    private readonly vswitchd: Pick<VswitchdService, 'call' | 'datapath'>,
    /** The vlog destinations read: `file`, `syslog`. */
    private readonly wanted: readonly string[],
    private readonly log: Logger,
  ) {}

  /** Some level was raised and is still to be put back. */
  get raised(): boolean {
    return this.before.length > 0;
  }

  /** Again after each vswitchd restart: a new daemon starts with its own levels. */
  async raise(): Promise<void> {
    const dp = await this.vswitchd.datapath().catch(() => null);
    const module = dp && dp.type !== 'netdev' && dp.type !== 'dummy' ? 'dpif' : 'dpif_netdev';
    const current = parseVlogList(await this.vswitchd.call('vlog/list'));
    for (const destination of this.wanted) {
      const before = current.get(module)?.[destination];
      if (!before || before === 'dbg') continue;
      if (!this.before.some((r) => r.module === module && r.destination === destination)) this.before.push({ module, destination, level: before });
      await this.vswitchd.call('vlog/set', [`${module}:${destination}:dbg`]);
      this.log.log(`vlog/set ${module}:${destination}:dbg (was ${before}; restored on shutdown)`);
    }
  }

  async restore(): Promise<void> {
    for (const r of this.before) await this.vswitchd.call('vlog/set', [`${r.module}:${r.destination}:${r.level}`]);
    this.before = [];
  }
}

/**
 * `vlog/list`: a header naming the destinations (console syslog file), a dashes line, then one
 * line per module with its level per destination. Levels are lower-cased as vlog/set takes them.
 */
export function parseVlogList(text: string): Map<string, Record<string, string>> {
  const lines = text.split('\n');
  const header = lines.find((l) => /\bconsole\b/.test(l));
  const destinations = header ? header.trim().split(/\s+/) : ['console', 'syslog', 'file'];
  const out = new Map<string, Record<string, string>>();
  for (const l of lines) {
    const parts = l.trim().split(/\s+/);
    if (parts.length !== destinations.length + 1 || !/^[a-z0-9_-]+$/.test(parts[0])) continue;
    const levels = parts.slice(1).map((p) => p.toLowerCase());
    if (!levels.every((v) => ['off', 'emer', 'err', 'warn', 'info', 'dbg'].includes(v))) continue;
    out.set(parts[0], Object.fromEntries(destinations.map((d, i) => [d, levels[i]])));
  }
  return out;
}
