// The shipper's stop (shipper.ts): a planned stop ships what the spool holds, bounded in time, and
// gives up what waits on PostgreSQL at its deadline. One owner of the stop's deadline, of its calls'
// order and of the abandon signal the shipper's PostgreSQL work runs under (pg-client.ts withClient).

/**
 * How long a stop goes on shipping what the spool holds before it gives up what is in flight: a
 * healthy PostgreSQL takes a spool's last writes well within it; a partitioned one costs the stop no
 * more than this (far under SILENT_MS and systemd's 90 s stop timeout).
 */
export const STOP_FLUSH_MS = 5_000;

/** What the stop asks of the shipper. */
export interface Stopped {
  /** No attempt after this one (synchronous part); resolves when the attempt in flight settled. */
  halt(): Promise<void> | undefined;
  /** Ships batches until none is left; rejects when PostgreSQL is away or the work was given up. */
  shipAll(): Promise<void>;
  /** After each flush: what waits on a shipment is told it will not come (synced() waiters). */
  flushed(): void;
}

export class ShipStop {
  /**
   * Aborted at the stop's deadline: the attempt in flight is given up, its connection destroyed
   * (pg-client.ts withClient); renewed once the work settled, so a batch asked for explicitly (shipSome) still runs.
   */
  private abandon = new AbortController();
  private stopping?: Promise<boolean>;
  /** When the stop gives up shipping (STOP_FLUSH_MS after its first call). */
  private deadline?: number;

  constructor(private readonly shipper: Stopped) {}

  /** What the shipper's PostgreSQL work runs under. */
  get signal(): AbortSignal {
    return this.abandon.signal;
  }

  /**
   * Stops shipping, then ships what the spool holds (a planned stop: an agent decommissioned never
   * starts again, an upgrade must not leave PostgreSQL behind), bounded by STOP_FLUSH_MS from the first
   * call: the attempt in flight is let finish, then batches are shipped until none is left. At the
   * deadline what is still in flight is given up (across a partition each attempt would wait for a
   * connect timeout, a statement in flight for SILENT_MS, past systemd's stop timeout): a batch whose
   * COMMIT was not heard keeps its ship_log entries and claimed range, sent again at the next start as
   * after any failed batch (a row shipped twice writes the same row). A later call (after the last
   * writes of a shutdown) awaits the earlier ones and ships again within what is left of the deadline.
   */
  async stop(): Promise<void> {
    this.deadline ??= Date.now() + STOP_FLUSH_MS;
    await (this.stopping = (this.stopping ?? this.halt()).then((settled) => this.flush(settled)));
  }

  /** Whether the attempt in flight settled by the deadline. */
  private halt(): Promise<boolean> {
    return this.bounded(async () => void (await this.shipper.halt()));
  }

  /**
   * Ships batches until none is left, within the stop's deadline; PostgreSQL away: it stays in the
   * spool. Not after the deadline, nor beside an attempt given up that has not settled (one batch at a time).
   */
  private async flush(halted: boolean): Promise<boolean> {
    if (halted && Date.now() < this.deadline!) halted = await this.bounded(async () => {
      try {
        await this.shipper.shipAll();
      } catch {
        // Away, or given up at the deadline: shipped at the next start.
      }
    });
    this.shipper.flushed();
    return halted;
  }

  /**
   * `work` until the stop's deadline: then what it awaits on PostgreSQL is given up (abandon) and the
   * stop waits no more (a connect or the schema's readiness across a partition has a timeout of its
   * own; what is given up settles later, harmlessly). `abandon` is renewed once the work settled, so a
   * batch asked for explicitly after the stop (shipSome) still runs.
   */
  private async bounded(work: () => Promise<void>): Promise<boolean> {
    const ctl = this.abandon;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      // The stop's own timer: it ends with the work, or gives the work up.
      timer = setTimeout(() => {
        ctl.abort();
        resolve();
      }, Math.max(0, (this.deadline ?? 0) - Date.now()));
    });
    const done = work().finally(() => {
      clearTimeout(timer);
      if (this.abandon === ctl && ctl.signal.aborted) this.abandon = new AbortController();
    });
    return Promise.race([done.then(() => true), deadline.then(() => false)]);
  }
}
