// What a spool tells PostgreSQL of its backlog, for PostgreSQL's own retention
// (retention/central-untraced-store.ts): writer_slot.traced_through and traced_flow_id, up to which
// every lifetime of the slot that ended has its citing traces in PostgreSQL. After an outage each table's
// rows ship by their own ranges, so a lifetime can reach PostgreSQL batches ahead of the traces that
// cite it; a round between them took it for one no trace cites and deleted it for good. Set once
// everything the spool held at a moment has left it: that moment, less LATE_TRACE_MS (a trace may
// still cite a lifetime that ended up to then, as the spool's own retention assumes; never past
// PostgreSQL's now()), and the newest lifetime the spool held then.
import { PG_NOW } from './pg-client';
import { ownNames } from './slot-claim';
import { SLOT_BITS } from './spool';
import type { Statements } from './writer';

/** How long after a lifetime ended a trace may still cite it (the spool's retention: QUIET_MS). */
export const LATE_TRACE_MS = 5 * 60_000;
/** At most one UPDATE of writer_slot this often: a later one only lets PostgreSQL prune sooner. */
const NOTE_EVERY_MS = 1_000;
/**
 * While a backlog keeps traced_through where it is, writer_slot.heard_at is still set this often: a
 * slot silent past LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS holds none of its lifetimes back
 * (a slot gone for good froze traced_through), and one catching up after an outage is not silent.
 */
const HEARD_EVERY_MS = 60_000;

/**
 * Whether PostgreSQL's retention took open lifetimes of the slot ($1) while it was silent
 * (retention/central-untraced-store.ts, pruned_lifetime): asked in the slot's own update, which is sent
 * anyway, so an agent that never was cut off pays one index probe of an empty range a second, no statement.
 */
const PRUNED = `EXISTS (SELECT 1 FROM pruned_lifetime p WHERE p.id >= $1::bigint * ${2 ** SLOT_BITS} AND p.id < ($1::bigint + 1) * ${2 ** SLOT_BITS}) AS pruned`;

/**
 * Only under this spool's own name ($n: ownNames; none known, an older spool: any): a spool whose slot
 * was given back (slot-take.ts) while it ran cut off told the slot's new spool's writer_slot row its
 * own traced_through and traced_flow_id, and PostgreSQL's retention took the new spool's lifetimes
 * for traced. Its batches are refused (stillOurs); a word is not a batch.
 */
const OURS = (n: number): string => `(cardinality($${n}::text[]) = 0 OR writer = ANY($${n}::text[]))`;

export interface SpoolMoment {
  at: number;
  /** The newest ship_log entry then. */
  seq: number;
  /** Each marked table's highest own id then. */
  tops: Array<[string, number]>;
  /** What the process's word (ShippedWord) said then, told once all this moment held has shipped. */
  word?: unknown;
}

/**
 * A fact about what the spool holds, true of PostgreSQL only once that has shipped: taken with a
 * moment, told after writer_slot's update (its owner writes the SQL: paths/chassis-mark-store.ts).
 */
export interface ShippedWord<T = unknown> {
  /** Now, before the moment's look at the spool (null: nothing to say). */
  take(): T | null;
  tell(value: T, send: (text: string, values: unknown[]) => Promise<{ rows: unknown[] }>): Promise<void>;
}

export class TracedThrough {
  private sentAt = 0;
  private heardAt = 0;
  /**
   * The moment taken and not yet told: judged again after each batch until all it held has left the
   * spool. A new one each batch was never all shipped within that batch while the backlog stayed over
   * one (an agent writing about as fast as it ships), and PostgreSQL never heard
   * (test/postgres/traced-through-steady.spec.ts).
   */
  private waiting: SpoolMoment | null = null;
  /** Set once by the agent's tracer (collectors/mark-writer.ts): its chassis_mark. */
  word?: ShippedWord;

  constructor(
    private readonly statements: Statements,
    private readonly slot: number | undefined,
  ) {}

  /** What the spool holds now, before a batch reads (null: not due, nothing to tell). */
  moment(tops: () => Array<[string, number]>): SpoolMoment | null {
    if (this.waiting) return this.waiting;
    const at = Date.now();
    if (this.slot === undefined || at - this.sentAt < NOTE_EVERY_MS) return null;
    // Before the spool is read: what the word vouches for is committed by then, so it is in seq and tops.
    const word = this.word?.take() ?? undefined;
    const r = this.statements.get('SELECT MAX(seq) AS s FROM ship_log').get() as { s: number | null };
    return (this.waiting = { at, seq: r.s ?? -1, tops: tops(), ...(word !== undefined ? { word } : {}) });
  }

  /**
   * After the batch committed (or a look found nothing): when all the moment held has left the spool,
   * PostgreSQL learns it. A failure only leaves PostgreSQL pruning later: it is not the batch's.
   */
  async note(
    m: SpoolMoment | null,
    shipped: (name: string, top: number) => boolean,
    send: (text: string, values: unknown[]) => Promise<{ rows: unknown[] }>,
    /** PostgreSQL's retention took open lifetimes of this slot while it was silent (ship-pruned.ts). */
    pruned: () => Promise<void>,
  ): Promise<void> {
    if (!m) return;
    const now = Date.now();
    if (this.statements.get('SELECT 1 FROM ship_log WHERE seq <= ? LIMIT 1').get(m.seq) || !m.tops.every(([name, top]) => shipped(name, top))) {
      // Not all shipped yet: only that this slot is still there.
      if (now - this.heardAt < HEARD_EVERY_MS) return;
      const told = await send(`UPDATE writer_slot SET heard_at = ${PG_NOW} WHERE slot = $1 AND ${OURS(2)} RETURNING ${PRUNED}`, [this.slot, this.names()]).then(
        (r) => {
          this.heardAt = now;
          return r;
        },
        () => undefined,
      );
      return this.hear(told, pruned);
    }
    const through = new Date(m.at - LATE_TRACE_MS).toISOString();
    // The newest lifetime then too: one written after the moment may be dated before it (ingest dates by its event).
    const flowId = m.tops.find(([name]) => name === 'datapath_flow')?.[1] ?? null;
    // Bounded by PostgreSQL's clock: traced_through also counts as heard (TRACED_IN), and a clock days
    // ahead kept a slot gone for good heard that long. A lower value is a weaker claim, still true of the
    // agent's removed_at; one already ahead (said before this) is brought down too
    // (test/postgres/central-retention-silent-slot.spec.ts 'runs ahead').
    const bounded = `LEAST($2, ${PG_NOW})`;
    const advance = `(traced_through IS NULL OR traced_through < ${bounded} OR traced_through > ${PG_NOW})`;
    const told = await send(
      `UPDATE writer_slot SET heard_at = ${PG_NOW}, traced_through = CASE WHEN ${advance} THEN ${bounded} ELSE traced_through END,
         traced_flow_id = CASE WHEN ${advance} THEN $3 ELSE traced_flow_id END WHERE slot = $1 AND ${OURS(4)} RETURNING ${PRUNED}`,
      [this.slot, through, flowId, this.names()],
    ).then(
      (r) => {
        this.sentAt = m.at;
        this.heardAt = now;
        this.waiting = null;
        return r;
      },
      () => undefined,
    );
    // A failed word is only late: the next moment says a newer one.
    if (told && m.word !== undefined) await this.word?.tell(m.word, send).catch(() => undefined);
    return this.hear(told, pruned);
  }

  private names(): string[] {
    return ownNames((sql) => this.statements.get(sql));
  }

  /** What the slot's update answered: lifetimes pruned while it was silent are shipped again (a failure: at the next word). */
  private async hear(told: { rows: unknown[] } | undefined, pruned: () => Promise<void>): Promise<void> {
    if ((told?.rows[0] as { pruned?: boolean } | undefined)?.pruned) await pruned().catch(() => undefined);
  }
}
