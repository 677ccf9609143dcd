// The vswitchd log records the source refuses as it reads them: a record whose text parsed but says
// what the daemon cannot have logged (a garbled or hand-edited line), which the source's handling
// would otherwise throw on, out of the follower's `lines` handler or the syslog socket's `message`
// event: the rest of that read lost, or the process down. Said once where it is read, so no later
// step (the upcall linker's slot, the write job's recircIdHex) meets it. refused() is the last guard
// of the same rule for a throw nothing foresaw.
import { recircId } from '../ovs/odp-key';
import { OvsParseError } from '../ovs/parse-error';
import type { VlogRecord } from '../ovs/vlog';
import { TallyLog } from './tally-log';

export type RefusalReason = 'bad_recirc_id' | 'bad_dropped_count' | 'error';

export interface Refusal {
  readonly reason: RefusalReason;
  /** What was wrong, as a person reads it. */
  readonly message: string;
}

/** lib/vlog.c counts a rate limit's dropped messages in an unsigned int and prints it with %u. */
const MAX_DROPPED = 0xffffffff;

/** Why `r` is refused before the source acts on it; null when it is not. */
export function refusal(r: VlogRecord): Refusal | null {
  const e = r.event;
  if (!e) return null;
  if (e.type === 'dropped_messages')
    return Number.isSafeInteger(e.count) && e.count <= MAX_DROPPED ? null : { reason: 'bad_dropped_count', message: `dropped count ${digits(r.message)} is past what vswitchd counts (an unsigned int)` };
  // Only where the source reads the key: a flow_del is taken by its UFID alone, its end never lost to its key.
  if ((e.type === 'upcall' || e.type === 'flow_add' || e.type === 'flow_mod' || e.type === 'flow_put') && e.parsedKey) {
    try {
      recircId(e.parsedKey); // the linker's slot and the stored row take it
    } catch (err) {
      if (!(err instanceof OvsParseError)) throw err;
      return { reason: 'bad_recirc_id', message: `recirc_id: ${err.message}` };
    }
  }
  return null;
}

/** A throw from acting on one record: refused, reading goes on (what it did before the throw stays). */
export function refused(err: unknown): Refusal {
  return { reason: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
}

/**
 * Where records were read: a UDP syslog listener, or a log file, its lines counted from `fromByte`
 * (0: from its start, the file's own line numbers; else where the follower began, the end of what
 * the file held when the service started).
 */
export type ReadFrom = { udp: string } | { file: string; fromByte: number };

/** Where a record was read, for the warning: its time and sequence number find it in the file, and so does its line. */
export function whereRead(r: VlogRecord, from: ReadFrom): string {
  const at = r.sequence === null ? r.timestamp : `${r.timestamp}|${String(r.sequence).padStart(5, '0')}`;
  if ('udp' in from) return `${at}, datagram ${r.line} read from udp ${from.udp}`;
  return from.fromByte === 0 ? `${at}, line ${r.line} of ${from.file}` : `${at}, line ${r.line} after byte ${from.fromByte} of ${from.file}`;
}

/** A line for the refused records at most this often (ms), with all refused since the last. */
export const REFUSED_LOG_MS = 10_000;

/**
 * The warnings of refused records (tally-log.ts): the first at once, naming it and what was wrong,
 * then at most one each REFUSED_LOG_MS with the count since by reason and the last of them.
 */
export class RefusedLog {
  private readonly tally = new TallyLog(REFUSED_LOG_MS, ({ total, kinds, last }) =>
    total === 1
      ? `refused a log record ${last}`
      : `refused ${total} log records since the last such line (${kinds.map(([k, n]) => `${k}: ${n}`).join(', ')}); the last refused a log record ${last}`,
  );

  /** `r`, read from `from`, refused at `now`; the line to log now, if one is due. */
  add(r: VlogRecord, from: ReadFrom, why: Refusal, now: number): string | null {
    return this.tally.add([[why.reason, 1]], now, `(${why.reason}) at ${whereRead(r, from)}: ${why.message}`);
  }

  /** The line for what is pending, if one is due at `now` (`force`: a stop, no later line). */
  due(now: number, force = false): string | null {
    return this.tally.due(now, force);
  }
}

/** The count's digits of a `Dropped N log messages` message, cut when long. */
function digits(message: string): string {
  const n = /\d+/.exec(message)?.[0] ?? '';
  return n.length > 24 ? `${n.slice(0, 12)}… (${n.length} digits)` : n;
}
