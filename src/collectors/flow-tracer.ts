// One installed flow → its annotated pass, by the method LIVETRACE_TRACE_METHOD and the daemon allow:
// ofproto/detrace (OVS >= 3.4: the rules cached in the flow's ukey) when it answers, else
// ofproto/trace of the flow's own key, which replays the translation (conntrack state included,
// while the recirculation id is alive) and so can be compared with the installed actions. The
// result says which method made the trace and why. Used by TracerService (queue, sessions, store).
import { annotatePass } from '../correlation/annotate';
import type { AnnotatedTrace } from '../correlation/types';
import { dpifMaps } from '../correlation/verdict';
import type { LivetraceConfig } from '../config/config.schema';
import { DpifDatapath, portNamesByNumber, portNumbersByName } from '../ovs/dpif-show';
import { traceKey } from '../ovs/odp-key';
import { parseOfprotoTrace } from '../ovs/ofproto-trace';
import { compareTracedActions } from '../ovs/trace-compare';
import type { ReplicasService } from '../replicas/replicas.service';
import type { LiveFlow } from './datapath-diff';
import { DetraceAnswer, detraceArgs, parseDetraceAnswer } from './detrace-pass';
import type { PollerService } from './poller.service';
import type { VswitchdService } from './vswitchd.service';

export type TraceFlowResult =
  | { kind: 'ok'; trace: AnnotatedTrace; consistent: boolean | null; reason?: string; methodReason: string }
  /** detrace found the ukey but no cache yet, and the caller may ask again later. */
  | { kind: 'cache_pending'; message: string }
  | { kind: 'failed'; reason: string; message: string };

export class FlowTracer {
  constructor(
    private readonly method: LivetraceConfig['LIVETRACE_TRACE_METHOD'],
    private readonly vswitchd: VswitchdService,
    private readonly poller: PollerService,
    private readonly replicas: ReplicasService,
    /** Counts an outcome (livetrace_traces_total). */
    private readonly count: (outcome: string) => void,
  ) {}

  /** Datapath port number → name of the last dpif/show (the sessions' in_port filters read it). */
  portNamesCache: ReadonlyMap<string, string> | undefined;
  /** Port maps of a dpif/show (cached by VswitchdService for seconds): built once, not per trace. */
  private readonly dpViews = new WeakMap<DpifDatapath, { names: Map<string, string>; numbers: Map<string, number>; annotate: ReturnType<typeof dpifMaps> }>();

  private dpView(dp: DpifDatapath) {
    let v = this.dpViews.get(dp);
    if (!v) {
      v = {
        names: new Map([...portNamesByNumber(dp)].map(([n, name]) => [String(n), name])),
        numbers: new Map(portNumbersByName(dp)),
        annotate: dpifMaps(dp),
      };
      this.dpViews.set(dp, v);
    }
    return v;
  }

  /**
   * The rules behind an installed flow: ofproto/detrace when LIVETRACE_TRACE_METHOD and the daemon
   * allow and it answers, else ofproto/trace of the flow's own key; annotated, with the reason.
   * `waitForCache`: a "Cache was not found" reply returns cache_pending instead of falling back.
   */
  async traceFlow(flow: LiveFlow, opts: { waitForCache?: boolean; detraceTries?: number } = {}): Promise<TraceFlowResult> {
    let dp: DpifDatapath | null = null;
    try {
      dp = await this.vswitchd.datapath();
      this.portNamesCache = dp ? this.dpView(dp).names : undefined;
    } catch {
      /* traced without port names */
    }
    let methodReason: string;
    if (this.method === 'trace') methodReason = 'LIVETRACE_TRACE_METHOD=trace';
    else if (!this.vswitchd.detrace) methodReason = 'ovs-vswitchd has no ofproto/detrace (OVS < 3.4)';
    else {
      const d = await this.detrace(flow);
      if (d.kind === 'entries') {
        const trace = annotatePass(d.pass, this.replicas.model, { ...this.annotateOptions(flow, dp), method: 'detrace' });
        this.count('detrace_answered');
        // The cache holds the rules of the flow's last translation (install or revalidation, whose
        // actions the datapath then has): there is no re-translation of ours to compare.
        const tries = opts.detraceTries ?? 0;
        return {
          kind: 'ok',
          trace,
          consistent: null,
          reason: "detrace: rules from the installed flow's own translation cache",
          methodReason: tries ? `ofproto/detrace answered after ${tries} "Cache was not found"` : 'ofproto/detrace answered',
        };
      }
      if (d.kind === 'cache_not_found' && opts.waitForCache) return { kind: 'cache_pending', message: d.message };
      this.count(`detrace_fallback_${d.kind}`);
      methodReason = `detrace: ${d.message}`;
    }
    const t0 = performance.now();
    let text: string;
    try {
      text = await this.vswitchd.call('ofproto/trace', [traceKey(flow.flow.key)]);
    } catch (err) {
      const msg = (err as Error).message;
      const reason = /no recirculation data/.test(msg) ? 'no_recirculation_data' : 'vswitchd_error';
      return { kind: 'failed', reason, message: msg };
    } finally {
      this.poller.addBusy(performance.now() - t0);
    }
    const parsed = parseOfprotoTrace(text);
    if (parsed.kind === 'no_recirculation_data') return { kind: 'failed', reason: 'no_recirculation_data', message: parsed.message };
    const trace = annotatePass(parsed.pass, this.replicas.model, { ...this.annotateOptions(flow, dp), method: 'trace' });
    const cmp = compareTracedActions(parsed.pass, flow.actions, dp ? this.dpView(dp).numbers : new Map());
    return { kind: 'ok', trace, consistent: cmp.same, reason: cmp.same ? undefined : cmp.reason, methodReason };
  }

  private annotateOptions(flow: LiveFlow, dp: DpifDatapath | null) {
    return {
      recircId: '0x' + flow.recircId.toString(16),
      inPort: flow.inPort ?? undefined,
      dpifMaps: dp ? this.dpView(dp).annotate : null,
      chassis: this.poller.chassis,
    };
  }

  /**
   * One ofproto/detrace of the flow's UFID with the pmd= of the dump it came from. Anything but
   * cache entries (no ukey, no cache yet, an error reply, a reply we cannot read) is an answer
   * to fall back on, with the daemon's own words: never a failed trace.
   */
  private async detrace(flow: LiveFlow): Promise<DetraceAnswer> {
    const t0 = performance.now();
    let text: string;
    try {
      text = await this.vswitchd.call('ofproto/detrace', detraceArgs(flow));
    } catch (err) {
      return { kind: 'error', message: `error reply: ${(err as Error).message}` };
    } finally {
      this.poller.addBusy(performance.now() - t0);
    }
    return parseDetraceAnswer(text, flow);
  }
}
