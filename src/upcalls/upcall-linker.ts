// Pairs upcalls with the datapath flow each one installed, by key under mask (key-match.ts).
// An upcall waits here until a flow of its (in_port, recirc_id) whose masked key it fits is
// installed, or until it is too old (the flow_add line was rate-limited away, the flow limit was
// hit, or the upcall was an `action` upcall that installs nothing): then it is released unlinked,
// never dropped. Pure: the caller passes the clock, one clock for adding and expiring (the time
// each event arrived, not the producer's own: its clock may be minutes apart).
import type { OdpKey } from '../ovs/odp-key';
import { inPort, recircId } from '../ovs/odp-key';
import { keyUnderMask } from '../ovs/key-match';

export interface InstalledFlow {
  readonly ufid: string;
  readonly megaUfid: string | null;
  /** Key with masks, as logged. */
  readonly key: string;
  readonly parsedKey: OdpKey;
  readonly actions: string;
  /** When it was read, on the caller's clock (the one expire() is given), never the producer's. */
  readonly at: number;
}

export interface Released<T> {
  readonly upcall: T;
  readonly flow: InstalledFlow | null;
}

interface Pending<T> {
  readonly upcall: T;
  readonly key: OdpKey;
  readonly at: number;
}

export interface LinkerOptions {
  /** How long an upcall may wait for its flow (ms). */
  readonly maxWaitMs: number;
  /** Upcalls waiting at most; beyond, the oldest is released unlinked. */
  readonly maxPending: number;
}

const slotOf = (key: OdpKey) => `${inPort(key) ?? ''}\u0000${recircId(key)}`;

export class UpcallLinker<T> {
  private readonly slots = new Map<string, Pending<T>[]>();
  private pending = 0;

  constructor(private readonly opts: LinkerOptions) {}

  get waiting(): number {
    return this.pending;
  }

  addUpcall(upcall: T, key: OdpKey, at: number): Released<T>[] {
    const slot = slotOf(key);
    let list = this.slots.get(slot);
    if (!list) this.slots.set(slot, (list = []));
    list.push({ upcall, key, at });
    this.pending++;
    return this.pending > this.opts.maxPending ? this.releaseOldest() : [];
  }

  /**
   * A flow was installed: every waiting upcall of its slot whose key it covers is its upcall
   * (several packets of one megaflow can be upcalled before it is in place).
   */
  addFlow(flow: InstalledFlow): Released<T>[] {
    const list = this.slots.get(slotOf(flow.parsedKey));
    if (!list) return [];
    const out: Released<T>[] = [];
    const keep: Pending<T>[] = [];
    for (const p of list) {
      if (keyUnderMask(flow.parsedKey, p.key)) out.push({ upcall: p.upcall, flow });
      else keep.push(p);
    }
    this.replace(slotOf(flow.parsedKey), keep, list.length - keep.length);
    return out;
  }

  /** Upcalls that waited longer than maxWaitMs, released unlinked. */
  expire(now: number): Released<T>[] {
    const out: Released<T>[] = [];
    for (const [slot, list] of this.slots) {
      const keep = list.filter((p) => now - p.at <= this.opts.maxWaitMs);
      if (keep.length === list.length) continue;
      for (const p of list) if (now - p.at > this.opts.maxWaitMs) out.push({ upcall: p.upcall, flow: null });
      this.replace(slot, keep, list.length - keep.length);
    }
    return out;
  }

  /** Everything still waiting (shutdown). */
  flush(): Released<T>[] {
    const out: Released<T>[] = [];
    for (const list of this.slots.values()) for (const p of list) out.push({ upcall: p.upcall, flow: null });
    this.slots.clear();
    this.pending = 0;
    return out;
  }

  private releaseOldest(): Released<T>[] {
    let oldest: { slot: string; i: number; at: number } | null = null;
    for (const [slot, list] of this.slots) {
      for (let i = 0; i < list.length; i++) if (!oldest || list[i].at < oldest.at) oldest = { slot, i, at: list[i].at };
    }
    if (!oldest) return [];
    const list = this.slots.get(oldest.slot)!;
    const [p] = list.splice(oldest.i, 1);
    this.replace(oldest.slot, list, 1);
    return [{ upcall: p.upcall, flow: null }];
  }

  private replace(slot: string, list: Pending<T>[], removed: number): void {
    this.pending -= removed;
    if (list.length) this.slots.set(slot, list);
    else this.slots.delete(slot);
  }
}
