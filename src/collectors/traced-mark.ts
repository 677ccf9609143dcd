// This chassis's progress mark (chassis_mark, paths/chassis-mark-store.ts): the time M through which
// every datapath flow the poller first saw, that a session selected, has been traced and stored (or
// given up: failed, dropped by a full queue or spool, its sessions ended). Why that covers every
// arrival a cross-chassis link could pick: the poller stamps a new flow with its dump's time (the
// same for all of one dump, after it), and the tracer takes a dump's new flows as it emits them, so
// a flow not in any dump so far is first seen after the last dump's time; a selected flow still
// queued, waiting for its detrace cache or for its store's commit holds M below its first seen.
// M = the last dump's time, or just before the oldest such flow's first seen. Before the sessions
// are read (an agent whose central store has not answered yet) there is no M: the flows of those
// first dumps are taken later, when the sessions come (TracerService 'reloaded').
// Stored means committed to this process's store; with PostgreSQL the shipper tells PostgreSQL M
// once everything the spool held when M was read has shipped (storage/ship-synced.ts).
// Flows installed before they were asked for (a session's includeExisting, an on-demand trace) hold
// M the same way; a told mark never moves back (chassis-mark-store.ts), so for a flow first seen
// before it the told mark stays where it was until the pass is stored. What that cannot cover: a hop
// read as settled before they were asked for may change once they are stored.
// Lifetimes from the vlog source are never a link's candidates by themselves (the vlog source stores
// no trace; a link looks at traced lifetimes only). What an ingest stores (role all, for any chassis
// its events name) is no mark's: dated by its producer's events, an upload may come any time after
// them, so no mark could wait for it, and a path it fits may change when it lands, settled or not.
// Without the poller (the vswitchd log alone) the tracer traces nothing (it takes the poller's flows
// only, and an on-demand trace needs an installed flow). Everything it traced is stored through any
// time, so M is its clock (once the sessions were read: its chassis is named by then).

/** A selected flow on its way to the store. */
export interface MarkHold {
  /** Just before the flow's first seen (ms): M cannot pass it while the flow is on its way. */
  readonly before: number;
}

export interface TracedMarkOptions {
  /** False: no poller hands this chassis's flows to the tracer, so nothing is traced. */
  polling?: boolean;
  now?: () => number;
}

export class TracedMark {
  private lastDump: number | null = null;
  private readonly holds = new Set<MarkHold>();
  private readonly polling: boolean;
  private readonly now: () => number;

  constructor(
    private readonly ready: () => boolean,
    options: TracedMarkOptions = {},
  ) {
    this.polling = options.polling ?? true;
    this.now = options.now ?? Date.now;
  }

  /** A dump's time (ISO), after its new flows were taken (each held already). */
  dumped(at: string): void {
    const t = Date.parse(at);
    if (!Number.isNaN(t) && (this.lastDump === null || t > this.lastDump)) this.lastDump = t;
  }

  /** A selected flow first seen at `firstSeen` goes to the tracer; release the hold once it is stored or given up. */
  hold(firstSeen: string): MarkHold {
    const h = { before: Date.parse(firstSeen) - 1 };
    this.holds.add(h);
    return h;
  }

  release(h: MarkHold | undefined): void {
    if (h) this.holds.delete(h);
  }

  /** M (ISO), or null while there is none (sessions not read yet; polling, no dump yet). */
  through(): string | null {
    if (!this.ready()) return null;
    if (!this.polling) return new Date(this.now()).toISOString();
    if (this.lastDump === null) return null;
    let m = this.lastDump;
    for (const h of this.holds) if (h.before < m) m = h.before;
    return new Date(m).toISOString();
  }
}
