// retis (`retis collect -c ovs --ovs-track [--ovs-enrich-flows]`) JSON events → v1 events.
// Layout from retis-org/retis retis-events/src/ovs.rs and events.rs: every line is one event
// whose sections are keyed by name; the `ovs` section is tagged by `event_type`, the
// `ovs-detrace` section is {ufid, flow, sf_acts, dpflow, ofpflows}. One upcall is spread over
// several events, tied together by (upcall_cpu, upcall_ts) in the kernel and by `queue_id` from
// the enqueue on: they are gathered here and become one `upcall` event. Pure: lines in, events out.
import { formatActions } from '../ovs/odp-actions';
import { formatKey } from '../ovs/odp-key';
import { parseDumpLine } from '../ovs/dump-flows';
import { parseOfprotoDetrace } from '../ovs/ofproto-detrace';
import { recircIdHex } from '../ovs/ids';
import type { EventV1, TranslationStepV1, UpcallV1 } from './event-schema';
import { LineRejection, ndjsonLines, parseJsonLine, ParsedBatch, ParsedLine, validateEvent } from './ndjson';

export interface RetisOptions {
  /** Wall clock (ms) used when the file has no `startup` event to convert monotonic timestamps. */
  readonly now: number;
}

export interface RetisBatch extends ParsedBatch {
  /** Lines of other collectors (skb, nft, ct…) or probes with nothing for this service. */
  readonly ignored: number;
}

interface Upcall {
  line: number;
  ts: number;
  cpu: number;
  cmd: number | null;
  queueId?: number;
  installed: boolean;
  thread?: string;
  packet?: string;
  actions: string[];
}

type Json = Record<string, unknown>;
const CMD = ['unspec', 'miss', 'action', 'exec'];
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
/** Counters, cpus, queue ids and nanosecond timestamps: non-negative integers (they become event ids). */
const uint = (v: unknown): number | undefined => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : undefined);
/**
 * A value as a reason quotes it (40 characters at most). JSON.parse reads a number past the double
 * range (1e400) as Infinity, which JSON.stringify writes `null`: say what it is instead.
 */
const shown = (v: unknown): string =>
  typeof v === 'number' && !Number.isFinite(v) ? `${v} (a number beyond the double range, ±1.8e308)` : (JSON.stringify(v)?.slice(0, 40) ?? 'nothing');
/** A field that is absent → undefined; present but not a non-negative integer → the reason. */
function uintField(o: Json, name: string, where: string): { value?: number; bad?: string } {
  if (o[name] === undefined) return {};
  const value = uint(o[name]);
  return value === undefined ? { bad: `${where}.${name}: must be a non-negative integer (got ${shown(o[name])})` } : { value };
}

/** retis prints a UFID from its four u32 words (fmt_ufid); newer files may carry the string. */
export function retisUfid(v: unknown): string | null {
  if (typeof v === 'string') return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v) ? v.toLowerCase() : null;
  if (!Array.isArray(v) || v.length !== 4 || !v.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) return null;
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  const [a, b, c, d] = v as number[];
  return `${h(a, 8)}-${h(b >>> 16, 4)}-${h(b & 0xffff, 4)}-${h(c >>> 16, 4)}-${h(c & 0xffff, 4)}${h(d, 8)}`;
}

/**
 * Lines read between two turns of the event loop (parseRetisYielding). A body is read whole (an
 * upcall's events are tied across lines), and a 16 MiB one took 1.1-3.1 s of CPU at once on a
 * shared 2-core machine, the API, /health and the tracer standing still; in slices of 256 lines
 * the longest the loop waited was 55-85 ms (the slowest lines, ovs-detrace, cost ~0.07 ms each).
 */
export const RETIS_SLICE_LINES = 256;

/** The body's events, read at once (small bodies, the specs). */
export function parseRetis(text: string | Buffer, opts: RetisOptions): RetisBatch {
  const steps = retisSteps(text, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** The body's events, the event loop turning every RETIS_SLICE_LINES lines (the ingest's). */
export async function parseRetisYielding(text: string | Buffer, opts: RetisOptions): Promise<RetisBatch> {
  const steps = retisSteps(text, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** parseRetis, yielding after every RETIS_SLICE_LINES lines read and upcalls built. */
function* retisSteps(text: string | Buffer, opts: RetisOptions): Generator<void, RetisBatch> {
  const out: ParsedLine[] = [];
  const rejected: LineRejection[] = [];
  let ignored = 0;
  let offsetMs: number | null = null;
  const byKernel = new Map<string, Upcall>();
  const byQueue = new Map<number, Upcall>();
  const upcalls: Upcall[] = [];
  const lookups = new Map<string, { line: number; ts: number }>();
  // A startup offset far out of range gives no Date (toISOString would throw): the event's time
  // then says so, and validateEvent refuses that line naming its time.
  const timeOf = (ns: number) => {
    const at = new Date(offsetMs === null ? opts.now : offsetMs + ns / 1e6);
    return Number.isNaN(at.getTime()) ? `out of range: startup offset ${offsetMs} ms + ${ns} ns` : at.toISOString();
  };
  const emit = (line: number, e: EventV1) => {
    const v = validateEvent(e);
    if ('reason' in v) rejected.push({ line, reason: `retis event gave an invalid ${e.type}: ${v.reason}` });
    else out.push({ line, event: v.event });
  };

  let read = 0;
  for (const [line, raw] of ndjsonLines(text)) {
    if (++read % RETIS_SLICE_LINES === 0) yield;
    const parsed = parseJsonLine(raw);
    if ('reason' in parsed) {
      rejected.push({ line, reason: parsed.reason });
      continue;
    }
    const ev = parsed.value;
    if (!isObj(ev)) {
      rejected.push({ line, reason: 'a retis event is a JSON object of sections' });
      continue;
    }
    const startup = ev.startup;
    if (isObj(startup) && isObj(startup.clock_monotonic_offset)) {
      const o = startup.clock_monotonic_offset;
      offsetMs = (num(o.sec) ?? 0) * 1000 + (num(o.nsec) ?? 0) / 1e6;
    }
    const common = isObj(ev.common) ? ev.common : {};
    const comm = isObj(common.task) && typeof common.task.comm === 'string' ? common.task.comm : undefined;
    const ovs = ev.ovs;
    const detrace = ev['ovs-detrace'];
    if (!isObj(ovs) && !isObj(detrace)) {
      ignored++;
      continue;
    }
    // The timestamp ties an upcall's events together and names the events built from them.
    const ts = uint(common.timestamp);
    if (ts === undefined) {
      rejected.push({ line, reason: `common.timestamp: must be a non-negative integer of nanoseconds (got ${shown(common.timestamp)})` });
      continue;
    }
    if (isObj(ovs)) {
      const problem = onOvs(ovs, line, ts, comm, packetSummary(ev));
      if (problem) rejected.push({ line, reason: problem });
    }
    if (isObj(detrace)) onDetrace(detrace, line, ts);
  }
  for (const [i, u] of upcalls.entries()) {
    if (i % RETIS_SLICE_LINES === RETIS_SLICE_LINES - 1) yield;
    const e: UpcallV1 = {
      type: 'upcall',
      id: `retis-upcall:${u.cpu}:${u.ts}`,
      time: timeOf(u.ts),
      source: 'retis',
      ...(u.cmd !== null && CMD[u.cmd] ? { upcallType: CMD[u.cmd] } : {}),
      ...(u.packet ? { packet: u.packet } : {}),
      ...(u.thread ? { thread: u.thread } : {}),
      ...(u.queueId !== undefined ? { queueId: u.queueId } : {}),
      installed: u.installed,
      ...(u.actions.length ? { datapathActions: u.actions.join(',') } : {}),
    };
    emit(u.line, e);
  }
  for (const [ufid, l] of lookups) emit(l.line, { type: 'ukey_updated', id: `retis-lookup:${ufid}:${l.ts}`, time: timeOf(l.ts), source: 'retis', ufid });
  out.sort((a, b) => a.line - b.line);
  return { events: out, rejected, ignored };

  function upcallAt(cpu: number, ts: number, line: number): Upcall {
    const k = `${cpu}/${ts}`;
    let u = byKernel.get(k);
    if (!u) {
      u = { line, ts, cpu, cmd: null, installed: false, actions: [] };
      byKernel.set(k, u);
      upcalls.push(u);
    }
    return u;
  }

  function onOvs(o: Json, line: number, ts: number, comm: string | undefined, packet: string | undefined): string | null {
    const fields = ['queue_id', 'cpu', 'upcall_cpu', 'upcall_ts', 'cmd'].map((n) => uintField(o, n, 'ovs'));
    const bad = fields.find((f) => f.bad);
    if (bad) return bad.bad!;
    const queue = uint(o.queue_id);
    switch (o.event_type) {
      case 'upcall': {
        const cpu = uint(o.cpu);
        if (cpu === undefined) return 'ovs.cpu: required for an upcall event';
        const u = upcallAt(cpu, ts, line);
        u.cmd = num(o.cmd) ?? null;
        u.packet ??= packet;
        return null;
      }
      case 'upcall_enqueue': {
        const cpu = uint(o.upcall_cpu);
        const uts = uint(o.upcall_ts);
        if (cpu === undefined || uts === undefined || queue === undefined) return 'ovs: upcall_enqueue needs upcall_cpu, upcall_ts and queue_id';
        const u = upcallAt(cpu, uts, line);
        u.cmd ??= num(o.cmd) ?? null;
        u.queueId = queue;
        u.packet ??= packet;
        byQueue.set(queue, u);
        return null;
      }
      case 'upcall_return':
        ignored++;
        return null;
      case 'recv_upcall':
      case 'flow_operation': {
        if (queue === undefined) return `ovs.queue_id: required for ${o.event_type}`;
        const u = byQueue.get(queue);
        if (!u) {
          ignored++; // its kernel side was not captured (filtered, or before the capture began)
          return null;
        }
        if (o.event_type === 'recv_upcall') u.thread = comm ?? u.thread;
        else if (o.op_type === 'put') u.installed = true;
        else if (o.op_type !== 'exec') return `ovs.op_type: must be put or exec (got ${shown(o.op_type)})`;
        return null;
      }
      case 'action_execute': {
        const u = queue === undefined ? undefined : byQueue.get(queue);
        let text: string;
        try {
          text = actionText(o);
        } catch (err) {
          return `ovs.id: ${(err as Error).message}`; // a recirc action's id that is not a uint32
        }
        if (u) u.actions.push(text);
        else ignored++; // fast path: no upcall to attach it to
        return null;
      }
      case 'flow_lookup': {
        const ufid = retisUfid(o.ufid);
        if (!ufid) return 'ovs.ufid: expected four 32-bit words or a UUID';
        lookups.set(ufid, { line, ts });
        return null;
      }
      default:
        return `ovs.event_type: unknown ${shown(o.event_type)}`;
    }
  }

  function onDetrace(d: Json, line: number, ts: number): void {
    const ufid = retisUfid(d.ufid);
    if (!ufid) {
      rejected.push({ line, reason: 'ovs-detrace.ufid: expected four 32-bit words or a UUID' });
      return;
    }
    const tag = `${ufid}:${String(d.flow ?? '')}:${String(d.sf_acts ?? '')}`;
    let actions: string | undefined;
    if (typeof d.dpflow === 'string' && d.dpflow.trim()) {
      const text = d.dpflow.split('\n').find((l) => l.includes('actions:'));
      try {
        const f = parseDumpLine(text ?? d.dpflow);
        actions = formatActions(f.actions);
        emit(line, { type: 'ukey_created', id: `retis-detrace:${tag}`, time: timeOf(ts), source: 'retis', ufid, key: formatKey(f.key), actions, packets: f.packets, bytes: f.bytes, used: f.used });
      } catch (err) {
        rejected.push({ line, reason: `ovs-detrace.dpflow: ${(err as Error).message}` });
      }
    }
    const lines = Array.isArray(d.ofpflows) ? d.ofpflows.filter((l): l is string => typeof l === 'string') : [];
    if (!lines.length) return;
    let steps: TranslationStepV1[];
    try {
      const r = parseOfprotoDetrace(lines.join('\n'));
      if (r.kind !== 'entries') return;
      steps = r.entries.flatMap((e): TranslationStepV1[] =>
        e.type === 'rule' ? [{ ...(e.bridge ? { bridge: e.bridge } : {}), table: e.table, priority: e.priority, cookie: e.cookie, match: e.match, actions: e.actions }] : [],
      );
    } catch (err) {
      rejected.push({ line, reason: `ovs-detrace.ofpflows: ${(err as Error).message}` });
      return;
    }
    if (!steps.length) return;
    emit(line, { type: 'translation', id: `retis-detrace-xlate:${tag}`, time: timeOf(ts), source: 'retis', ufid, steps, ...(actions ? { datapathActions: actions } : {}) });
  }
}

function actionText(o: Json): string {
  switch (o.action) {
    case 'output':
      return `output:${num(o.port) ?? '?'}`;
    case 'recirc':
      return `recirc(${recircIdHex(num(o.id) ?? 0)})`;
    case 'ct':
      return `ct(zone=${num(o.zone_id) ?? 0}${(num(o.flags) ?? 0) & 1 ? ',commit' : ''})`;
    case 'drop':
      return `drop(${num(o.reason) ?? 0})`;
    default:
      return typeof o.action === 'string' ? o.action : 'unspec';
  }
}

/** `icmp 10.0.0.1 > 10.0.0.2 type 8 code 0` from the skb section (flat in older retis, nested in newer). */
function packetSummary(ev: Json): string | undefined {
  const skb = isObj(ev.skb) ? ev.skb : undefined;
  if (!skb) return undefined;
  const ip = isObj(skb.ip) ? skb.ip : skb;
  const saddr = ip.saddr;
  const daddr = ip.daddr;
  if (typeof saddr !== 'string' || typeof daddr !== 'string') return undefined;
  const proto = num(ip.protocol);
  const name = proto === 1 ? 'icmp' : proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 58 ? 'icmp6' : proto !== undefined ? `proto ${proto}` : 'ip';
  const l4 = (isObj(skb.tcp) ? skb.tcp : isObj(skb.udp) ? skb.udp : skb) as Json;
  const icmp = (isObj(skb.icmp) ? skb.icmp : undefined) as Json | undefined;
  let s = `${name} ${saddr}`;
  if (num(l4.sport) !== undefined && proto !== 1) s += `:${l4.sport}`;
  s += ` > ${daddr}`;
  if (num(l4.dport) !== undefined && proto !== 1) s += `:${l4.dport}`;
  const type = icmp ? num(icmp.type) : num(skb.icmp_type);
  const code = icmp ? num(icmp.code) : num(skb.icmp_code);
  if (proto === 1 && type !== undefined) s += ` type ${type} code ${code ?? 0}`;
  return s;
}
