// One installed flow → its annotated pass, by the method LIVETRACE_TRACE_METHOD and the daemon allow:
// ofproto/detrace (OVS >= 3.4: the rules cached in the flow's ukey) when it answers, else
// ofproto/trace of the flow's own key, which replays the translation (conntrack state included,
// while the recirculation id is alive) and so can be compared with the installed actions. The
// result says which method made the trace and why. Used by TracerService (queue, sessions, store).
import { Inject, Injectable } from '@nestjs/common';
import { annotatePass } from '../correlation/annotate';
import type { AnnotatedTrace } from '../correlation/types';
import { LIVETRACE_CONFIG } from '../config/config.module';
import type { LivetraceConfig } from '../config/config.schema';
import { recircIdHex } from '../ovs/ids';
import { traceKey } from '../ovs/odp-key';
import { parseOfprotoTrace } from '../ovs/ofproto-trace';
import { compareTracedActions } from '../ovs/trace-compare';
import { ReplicasService } from '../replicas/replicas.service';
import type { LiveFlow } from './datapath-diff';
import { DatapathPortMaps, DatapathPorts } from './datapath-ports';
import { DetraceAnswer, detraceArgs, parseDetraceAnswer } from './detrace-pass';
import { PollerService } from './poller.service';
import { TracerMetrics } from './tracer-metrics';
import { VswitchdService } from './vswitchd.service';

export type TraceFlowResult =
  | { kind: 'ok'; trace: AnnotatedTrace; consistent: boolean | null; reason?: string; methodReason: string }
  /** detrace found the ukey but no cache yet, and the caller may ask again later. */
  | { kind: 'cache_pending'; message: string }
  | { kind: 'failed'; reason: string; message: string };

@Injectable()
export class FlowTracer {
  private readonly method: LivetraceConfig['LIVETRACE_TRACE_METHOD'];

  constructor(
    @Inject(LIVETRACE_CONFIG) config: LivetraceConfig,
    private readonly vswitchd: VswitchdService,
    private readonly poller: PollerService,
    private readonly replicas: ReplicasService,
    private readonly ports: DatapathPorts,
    private readonly metrics: TracerMetrics,
  ) {
    this.method = config.LIVETRACE_TRACE_METHOD;
  }

  /**
   * The rules behind an installed flow: ofproto/detrace when LIVETRACE_TRACE_METHOD and the daemon
   * allow and it answers, else ofproto/trace of the flow's own key; annotated, with the reason.
   * `waitForCache`: a "Cache was not found" reply returns cache_pending instead of falling back.
   */
  async traceFlow(flow: LiveFlow, opts: { waitForCache?: boolean; detraceTries?: number } = {}): Promise<TraceFlowResult> {
    // Without an answer from dpif/show, traced without port names.
    const dp = await this.ports.current();
    let methodReason: string;
    if (this.method === 'trace') methodReason = 'LIVETRACE_TRACE_METHOD=trace';
    else if (!this.vswitchd.detrace) methodReason = 'ovs-vswitchd has no ofproto/detrace (OVS < 3.4)';
    else {
      // Looked at again once the daemon answered: replaced meanwhile, the cache it read may be the new lifetime's.
      const d = this.gone(flow) ? null : await this.detrace(flow);
      const gone = this.gone(flow);
      if (gone || !d) methodReason = gone!;
      else if (d.kind === 'entries') {
        const trace = annotatePass(d.pass, this.replicas.model, { ...this.annotateOptions(flow, dp), method: 'detrace' });
        this.metrics.count('detrace_answered');
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
      } else if (d.kind === 'cache_not_found' && opts.waitForCache) return { kind: 'cache_pending', message: d.message };
      else {
        this.metrics.count(`detrace_fallback_${d.kind}`);
        methodReason = `detrace: ${d.message}`;
      }
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
    const cmp = compareTracedActions(parsed.pass, flow.actions, dp ? dp.numbers : new Map());
    return { kind: 'ok', trace, consistent: cmp.same, reason: cmp.same ? undefined : cmp.reason, methodReason };
  }

  /**
   * Why ofproto/detrace cannot speak for `flow` any more, null while it can: the daemon finds a ukey
   * by UFID, and once the poller saw this lifetime removed its UFID names nothing or a newer lifetime
   * (the same packet installs the same UFID again, maybe with other actions), whose cached rules are
   * not this pass's. Its own key is traced instead (the queue, a detrace retry, take seconds).
   */
  private gone(flow: LiveFlow): string | null {
    const now = this.poller.table.live.get(flow.ufid);
    if (now === flow) return null;
    return now
      ? 'removed before its trace, its UFID now a newer datapath flow\'s: ofproto/detrace would answer for that one'
      : 'removed before its trace: no ukey for ofproto/detrace';
  }

  private annotateOptions(flow: LiveFlow, dp: DatapathPortMaps | null) {
    return {
      recircId: recircIdHex(flow.recircId),
      inPort: flow.inPort ?? undefined,
      dpifMaps: dp ? dp.annotate : null,
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
