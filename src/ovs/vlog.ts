import { LineError, OvsParseError } from './parse-error';
import { OvsTextParseError } from './trace-error';
import { classifyVlogMessage, FlowChangeEvent, VlogEvent } from './trace-vlog-events';

export type { VlogEvent, UpcallEvent, FlowChangeEvent, FlowMatchEvent, DpifFlowOpEvent, DroppedMessagesEvent } from './trace-vlog-events';

/**
 * OVS daemon log records (lib/vlog.c), from a log file or from UDP syslog datagrams.
 *
 * File layout `%D{%Y-%m-%dT%H:%M:%S.###Z}|%05N|%c%T|%p|%m`: the thread (`(revalidator5)`) is absent
 * for the main thread, and a message with newlines continues on lines without any prefix (an upcall
 * is three lines). Syslog (`--syslog-target`) sends one datagram per message,
 * `<PRI>1 TIMESTAMP HOST PROGRAM PID MODULE - \uFEFFMSG`, with neither thread nor sequence number.
 */

export type VlogLevel = 'EMER' | 'ERR' | 'WARN' | 'INFO' | 'DBG';

export interface VlogRecord {
  /** The timestamp as printed, and as epoch milliseconds (NaN if unreadable). */
  readonly timestamp: string;
  readonly time: number;
  /** `%05N`, the per-thread message counter; null from syslog. */
  readonly sequence: number | null;
  readonly module: string;
  /** `revalidator5`, `handler1`, `pmd-c01/id:8`; null for the main thread and for syslog. */
  readonly thread: string | null;
  readonly level: VlogLevel;
  /** The whole message, continuation lines joined with `\n`. */
  readonly message: string;
  /** 1-based line (file) or datagram number (syslog) of the record's first line. */
  readonly line: number;
  /** Syslog only: sender's host, program and pid. */
  readonly origin: { readonly host: string; readonly program: string; readonly pid: number } | null;
  /** What the message says, when it is an upcall / datapath flow message; null otherwise. */
  readonly event: VlogEvent | null;
}

export interface VlogOutput {
  readonly records: VlogRecord[];
  /** Lines that are not part of any record, and known messages that are malformed (text kept). */
  readonly errors: LineError[];
}

const PREFIX = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z)\|(\d+)\|([A-Za-z0-9_-]+)(?:\(([^()|]*)\))?\|(EMER|ERR|WARN|INFO|DBG)\|/;
const SYSLOG = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\d+) ([A-Za-z0-9_-]+) - (?:\uFEFF)?/;
/** lib/vlog.c syslog_levels: EMER→LOG_ALERT, ERR→LOG_ERR, WARN→LOG_WARNING, INFO→LOG_NOTICE, DBG→LOG_DEBUG. */
const SEVERITY: readonly VlogLevel[] = ['EMER', 'EMER', 'ERR', 'ERR', 'WARN', 'INFO', 'INFO', 'DBG'];
/** A flow_add waiting for its thread's `flow match:` is released after this many other records. */
const HOLD_LIMIT = 256;

type Draft = Omit<VlogRecord, 'message' | 'event'> & { head: string; continuation: string[] };

/**
 * Incremental parser: push lines (a file follower) or datagrams (a syslog socket), get records.
 * A record is emitted as soon as it is known complete: upcalls after their two continuation lines,
 * one-line flow messages at once, anything else when the next record starts or on flush().
 */
export class VlogParser {
  private lineNo: number;
  private datagramNo = 0;
  private pending: Draft | null = null;
  /** flow_add / flow_mod per module+thread, waiting for the `flow match:` logged right after. */
  private held = new Map<string, { record: VlogRecord; age: number }>();

  constructor(firstLine = 1) {
    this.lineNo = firstLine - 1;
  }

  /** One line of a log file, without its newline. */
  pushLine(text: string): VlogOutput {
    const out: VlogOutput = { records: [], errors: [] };
    this.lineNo += 1;
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    const m = PREFIX.exec(line);
    if (m) {
      this.finishPending(out);
      this.pending = {
        timestamp: m[1],
        time: Date.parse(m[1]),
        sequence: Number(m[2]),
        module: m[3],
        thread: m[4] ?? null,
        level: m[5] as VlogLevel,
        line: this.lineNo,
        origin: null,
        head: line.slice(m[0].length),
        continuation: [],
      };
    } else if (this.pending) {
      this.pending.continuation.push(line);
    } else if (line.trim() !== '') {
      const error = new OvsTextParseError('vswitchd log', line, 0, 'line is neither a record nor the continuation of one', this.lineNo);
      out.errors.push({ line: this.lineNo, text: line, error });
    }
    if (this.pending && isComplete(this.pending)) this.finishPending(out);
    return out;
  }

  /** One UDP syslog datagram (the whole message, newlines included). */
  pushDatagram(datagram: string): VlogOutput {
    const out: VlogOutput = { records: [], errors: [] };
    this.datagramNo += 1;
    const m = SYSLOG.exec(datagram);
    if (!m || Number(m[1]) > 191) {
      const error = new OvsTextParseError('vswitchd syslog datagram', datagram, 0, 'expected "<PRI>1 TIMESTAMP HOST PROGRAM PID MODULE - "', this.datagramNo);
      out.errors.push({ line: this.datagramNo, text: datagram, error });
      return out;
    }
    const [head, ...continuation] = datagram.slice(m[0].length).replace(/\n$/, '').split('\n');
    this.accept(
      {
        timestamp: m[2],
        time: Date.parse(m[2]),
        sequence: null,
        module: m[6],
        thread: null,
        level: SEVERITY[Number(m[1]) % 8],
        line: this.datagramNo,
        origin: { host: m[3], program: m[4], pid: Number(m[5]) },
        head,
        continuation,
      },
      out,
    );
    return out;
  }

  /** End of input (or the follower went idle): emits whatever is still pending or held. */
  flush(): VlogOutput {
    const out: VlogOutput = { records: [], errors: [] };
    this.finishPending(out);
    for (const { record } of this.held.values()) out.records.push(record);
    this.held.clear();
    return out;
  }

  private finishPending(out: VlogOutput): void {
    if (!this.pending) return;
    const draft = this.pending;
    this.pending = null;
    this.accept(draft, out);
  }

  private accept(draft: Draft, out: VlogOutput): void {
    const { head, continuation, ...fields } = draft;
    const message = [head, ...continuation].join('\n');
    let event: VlogEvent | null = null;
    try {
      event = classifyVlogMessage(head, continuation);
    } catch (e) {
      if (!(e instanceof OvsParseError)) throw e;
      const error = new OvsTextParseError(e.what, e.input, e.position, e.reason, draft.line);
      out.errors.push({ line: draft.line, text: message, error });
    }
    if (event && 'parseErrors' in event) {
      for (const e of event.parseErrors) {
        const error = new OvsTextParseError(e.what, e.input, e.position, e.reason, draft.line);
        out.errors.push({ line: draft.line, text: message, error });
      }
    }
    const record: VlogRecord = { ...fields, message, event };
    this.route(record, out);
  }

  /** Joins `flow match:` to the flow_add/flow_mod its thread logged just before. */
  private route(record: VlogRecord, out: VlogOutput): void {
    const key = `${record.module}(${record.thread ?? ''})`;
    const held = this.held.get(key);
    if (held) {
      this.held.delete(key);
      if (record.event?.type === 'flow_match') {
        const change = held.record.event as FlowChangeEvent;
        out.records.push({ ...held.record, event: { ...change, flowMatch: record.event.match } });
        return;
      }
      out.records.push(held.record);
    }
    for (const [other, entry] of this.held) {
      entry.age += 1;
      if (entry.age > HOLD_LIMIT) {
        out.records.push(entry.record);
        this.held.delete(other);
      }
    }
    if (record.event?.type === 'flow_add' || record.event?.type === 'flow_mod') {
      this.held.set(key, { record, age: 0 });
    } else {
      out.records.push(record);
    }
  }
}

/** Messages whose shape is fixed can be closed without waiting for the next record. */
function isComplete(draft: Draft): boolean {
  if (/ upcall:$/.test(draft.head)) return draft.continuation.length >= 2;
  if (draft.continuation.length > 0) return false;
  return /^(?:flow_(?:add|mod): |flow match: |\S+: (?:failed to )?(?:put|flow_del))/.test(draft.head);
}

/** Parses a whole log file text. */
export function parseVlogText(text: string): VlogOutput {
  const parser = new VlogParser();
  const records: VlogRecord[] = [];
  const errors: LineError[] = [];
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    const out = parser.pushLine(line);
    records.push(...out.records);
    errors.push(...out.errors);
  }
  const rest = parser.flush();
  records.push(...rest.records);
  errors.push(...rest.errors);
  return { records, errors };
}

/** Parses a batch of syslog datagrams. */
export function parseVlogDatagrams(datagrams: readonly string[]): VlogOutput {
  const parser = new VlogParser();
  const records: VlogRecord[] = [];
  const errors: LineError[] = [];
  for (const d of datagrams) {
    const out = parser.pushDatagram(d);
    records.push(...out.records);
    errors.push(...out.errors);
  }
  const rest = parser.flush();
  return { records: [...records, ...rest.records], errors: [...errors, ...rest.errors] };
}
