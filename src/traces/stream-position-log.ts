// Stream positions too long to send (stream-position.ts: more than MAX_LISTED writer slots), kept
// by the service that sent them. Such a stream's SSE id is `<trace id>~<token>.<seq>`: the token
// names the stream's log here, seq its event, and the log gives back where the stream stood in
// every slot at that event (its slots' floors when the log began, then each floor that moved, with
// the event it moved at), so a resume by it on this service is exact, however many slots. Where the
// log is not known (another api instance, a restart, evicted) the trace id alone is read, as any
// plain trace id is: its slot after it, every other slot from its trace time less the reorder
// window (trace-slot-store.ts resumeFloors), so no trace stamped since is missed.
import { randomBytes } from 'node:crypto';

interface Log {
  /** Slot → floor at event baseSeq. */
  base: Map<number, number>;
  baseSeq: number;
  /** [event, slot, floor] since baseSeq, in event order. */
  moves: Array<[number, number, number]>;
  usedAt: number;
}

/** Floor moves a log keeps before folding the older half into its base (events before can no longer be resumed exactly). */
export const LOG_MOVES = 4096;
/** Logs kept (at most ~0.4 MB each: a base of a few thousand slots, LOG_MOVES moves): the least recently used goes first. */
export const LOG_STREAMS = 64;
/** A log not used for this long is forgotten. */
export const LOG_TTL_MS = 3_600_000;

export const TOKEN = /^[A-Za-z0-9_-]{16}$/;

export class StreamPositionLog {
  private readonly logs = new Map<string, Log>();

  /** A new log whose floors at event `seq` are `floors`; its token. */
  open(floors: ReadonlyMap<number, number>, seq: number, now = Date.now()): string {
    for (const [token, log] of this.logs) if (now - log.usedAt >= LOG_TTL_MS) this.logs.delete(token);
    while (this.logs.size >= LOG_STREAMS) {
      let oldest: string | undefined;
      for (const [token, log] of this.logs) if (oldest === undefined || log.usedAt < this.logs.get(oldest)!.usedAt) oldest = token;
      this.logs.delete(oldest!);
    }
    const token = randomBytes(12).toString('base64url');
    this.logs.set(token, { base: new Map(floors), baseSeq: seq, moves: [], usedAt: now });
    return token;
  }

  /** `slot`'s floor moved to `id` at event `seq` (not before the log's last move). */
  move(token: string, seq: number, slot: number, id: number, now = Date.now()): void {
    const log = this.logs.get(token);
    if (!log) return;
    log.usedAt = now;
    log.moves.push([seq, slot, id]);
    if (log.moves.length <= LOG_MOVES) return;
    const folded = log.moves.splice(0, LOG_MOVES / 2);
    for (const [, s, f] of folded) log.base.set(s, f);
    log.baseSeq = folded[folded.length - 1][0];
  }

  /** The floors at event `seq`, when this log still holds it exactly. */
  at(token: string, seq: number, now = Date.now()): Map<number, number> | undefined {
    const log = this.logs.get(token);
    if (!log || seq < log.baseSeq || now - log.usedAt >= LOG_TTL_MS) return undefined;
    log.usedAt = now;
    const floors = new Map(log.base);
    for (const [e, slot, id] of log.moves) {
      if (e > seq) break;
      floors.set(slot, id);
    }
    return floors;
  }

  get size(): number {
    return this.logs.size;
  }
}
