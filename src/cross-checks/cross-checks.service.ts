// Cross-checks a stored live path against ovn-trace: builds the microflow from the path, runs the
// configured binary, parses its detailed output, compares stage by stage and stores the answer.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import { ApiError, notFound } from '../common/api-error';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { MetricsService } from '../metrics/metrics.service';
import { ReplicasService } from '../replicas/replicas.service';
import { PathBuilder, type StoredPathVerdict } from '../paths';
import { StoreService } from '../storage/store.service';
import { CrossCheckStore } from './cross-check-store';
import type { TraceJson } from '../traces';
import { TraceStore } from '../traces/trace-store';
import { TracesService } from '../traces/traces.service';
import { Comparison, compareWithSimulation, explainedByMissingPasses, LogicalFlowResolver } from './compare';
import { arrivedThrough, buildMicroflow, Microflow, MicroflowError } from './microflow';
import { feedCtStates, liveCtPasses } from './ct-sequence';
import type { SouthboundPortLookup } from './vlan-tag';
import { macBindingLookup } from './learned-binding';
import { logicalFlowResolver } from './live-segments';
import { OvnTraceParseError, OvnTraceRefusedError, OvnTraceResult, parseOvnTrace } from './ovn-trace-parse';
import { ovnTraceArgs, OvnTraceUnavailableError, runOvnTrace, shellQuote } from './ovn-trace-runner';

export interface CrossCheckJson extends Comparison {
  id: number;
  traceId: number;
  pathId: number | null;
  sessionId: number | null;
  createdAt: string;
  microflow: Microflow;
  /** The exact argument array (binary first) and a shell-quoted rendering of it for humans. */
  command: { argv: string[]; shell: string };
  /** The passes compared, in edge order (as GET /paths/:id gives them). */
  traceIds: number[];
  /** A hand-typed path's: its conntrack states are what ofproto/trace assumed, not a real connection's. */
  conntrack?: string;
  ovnTrace: {
    flow: string;
    /** How many times ovn-trace ran before the --ct values settled (ct-sequence.ts). */
    runs: number;
    /** Its conntrack sections: which took a --ct value (flag) and the live pass it stands for. */
    ctSections: Array<{ title: string; ctState: string | null; defaulted: boolean; consumesCt: boolean; flag: string | null; liveTraceId: number | null }>;
    output: string;
  };
}

const MAX_STORED_OUTPUT = 256 * 1024;
/** ovn-trace runs per cross-check while the --ct values settle (two suffice on every path seen; a third is a guard). */
const MAX_OVN_TRACE_RUNS = 3;

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

@Injectable()
export class CrossChecksService {
  private readonly log = new Logger('CrossChecks');
  private readonly results: Counter<'result'>;

  constructor(
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    private readonly storage: StoreService,
    private readonly store: CrossCheckStore,
    private readonly traces: TracesService,
    private readonly traceStore: TraceStore,
    private readonly paths: PathBuilder,
    private readonly replicas: ReplicasService,
    metrics: MetricsService,
  ) {
    this.results = new Counter({
      name: 'livetrace_cross_checks_total',
      help: 'Cross-checks against ovn-trace, by result (match, diverged, failed)',
      labelNames: ['result'],
      registers: [metrics.registry],
    });
  }

  /** The trace's whole path (or the trace alone when it has none) in edge order, and its verdict (paths/path-builder.ts). */
  private async livePath(traceId: number): Promise<{ passes: TraceJson[]; verdict: StoredPathVerdict }> {
    const built = await this.paths.ofTrace(traceId);
    if (!built) throw notFound(`no trace ${traceId}`);
    return { passes: await Promise.all(built.passes.map((r) => this.traceStore.fromRow(r, true))), verdict: built.verdict };
  }

  private readonly resolve: LogicalFlowResolver = (prefix) => logicalFlowResolver(this.replicas.model)(prefix);

  private readonly southboundPort: SouthboundPortLookup = (port) => this.replicas.model.portByName(port);

  async crossCheck(traceId: number): Promise<CrossCheckJson> {
    // The path is read where the API reads: with PostgreSQL, the passes this agent just stored (the
    // automatic cross-check of a session's path) must have been shipped there first.
    await this.storage.shipper?.synced();
    const trace = await this.traces.get(traceId, false);
    const { passes, verdict } = await this.livePath(traceId);
    let microflow: Microflow;
    try {
      microflow = buildMicroflow(passes);
    } catch (err) {
      if (err instanceof MicroflowError) throw new ApiError(422, `trace ${traceId}: cannot build an ovn-trace microflow: ${err.message}`);
      throw err;
    }
    const binary = this.config.LIVETRACE_OVN_TRACE;
    const argsFor = (m: Microflow) =>
      ovnTraceArgs(m, {
        db: this.config.OVN_SB_DB,
        tls: this.config.LIVETRACE_SSL_PRIVATE_KEY
          ? { privateKey: this.config.LIVETRACE_SSL_PRIVATE_KEY, certificate: this.config.LIVETRACE_SSL_CERTIFICATE, caCert: this.config.LIVETRACE_SSL_CA_CERT }
          : undefined,
        leaderOnly: this.config.LIVETRACE_LEADER_ONLY,
      });
    const liveCt = liveCtPasses(passes);
    let args: string[];
    let output: string;
    let comparison: Comparison;
    let sim: OvnTraceResult;
    let feed: ReturnType<typeof feedCtStates>;
    let runs = 0;
    try {
      // Which conntrack actions take a --ct value depends on the path ovn-trace takes: start from one
      // value per live ct pass, then feed the states its own sections call for until they settle.
      for (;;) {
        args = argsFor(microflow);
        output = await runOvnTrace(binary, args, this.config.LIVETRACE_OVN_TRACE_TIMEOUT_MS);
        runs++;
        sim = parseOvnTrace(output);
        feed = feedCtStates(sim, liveCt);
        if (runs >= MAX_OVN_TRACE_RUNS || sameList(feed.flags, microflow.ctStates)) break;
        microflow = { ...microflow, ctStates: feed.flags };
      }
      comparison = compareWithSimulation(passes, verdict, sim, this.resolve, this.southboundPort, macBindingLookup(this.replicas.model));
      // Where the live path has no pass (a recirculation not traced, or not yet; an arrival whose
      // sender was not traced) there is nothing the two tools disagree on. A divergence at a stage
      // the live path did reach stands.
      // A path that starts with an arrival (its sender's pass on another chassis is not part of a
      // one-chassis path) misses its start as surely as one marked incomplete.
      const from = arrivedThrough(passes[0].flow);
      if ((verdict.incomplete || from) && explainedByMissingPasses(comparison)) {
        // A hand-typed path holds what ofproto/trace simulated, and nothing more will ever be traced:
        // a pass it lacks is one the daemon did not simulate (its recirculation limit), or the trace
        // was stored alone, before POST /traces kept every pass.
        if (trace.origin === 'hand-typed') {
          throw new ApiError(
            422,
            `trace ${traceId}: a hand-typed flow (POST /traces) whose path lacks a pass (${verdict.incompleteReason ?? 'a pass is missing'}): ofproto/trace did not ` +
              'simulate it (its recirculation limit) or the trace was stored with its first pass only (before every pass was kept), so ovn-trace went where ' +
              'there is no pass to compare; trace the flow again (POST /traces) or cross-check a live trace of this traffic (POST /trace-sessions)',
          );
        }
        const why = verdict.incomplete ? (verdict.incompleteReason ?? 'a pass is missing') : `it starts with a packet that arrived through a tunnel from ${from}: its ingress pipeline ran on the sending chassis`;
        throw new ApiError(422, `trace ${traceId}: the path is incomplete (${why}): ovn-trace went where the live path has no pass to compare; cross-check ${verdict.incomplete ? 'it once every pass is traced' : "the sending chassis's path"}`);
      }
    } catch (err) {
      this.results.inc({ result: 'failed' });
      if (err instanceof OvnTraceUnavailableError) throw new ApiError(503, err.message);
      if (err instanceof OvnTraceRefusedError) throw new ApiError(503, `${binary}: ${err.message}`);
      if (err instanceof OvnTraceParseError) throw new ApiError(503, `${binary}: unreadable output: ${err.message}`);
      throw err;
    }
    const argv = [binary, ...args];
    const body = {
      ...comparison,
      // A hand-typed path's passes after ct() ran with the states POST /traces gave ofproto/trace
      // (ctNext, its --ct-next) and past them with its trk|new; each pass's Flow: line holds the state it
      // ran with, and ovn-trace was told that same state (microflow.ctStates, read from those lines).
      ...(trace.origin === 'hand-typed' && liveCt.length
        ? {
            conntrack:
              `hand-typed: the conntrack states compared (${liveCt.map((c) => c.ctState).join('; ')}) are those POST /traces gave ofproto/trace (ctNext) ` +
              "or, past them, what ofproto/trace assumed (trk|new), not a real connection's",
          }
        : {}),
      traceId,
      pathId: trace.pathId,
      sessionId: trace.sessionId,
      createdAt: new Date().toISOString(),
      microflow,
      command: { argv, shell: shellQuote(argv) },
      traceIds: passes.map((p) => p.id),
      ovnTrace: {
        flow: sim.flow,
        runs,
        ctSections: sim.sections
          .filter((s) => s.conntrack)
          .map((s, k) => ({ title: s.title, ctState: s.ctState, defaulted: s.defaulted, consumesCt: s.consumesCt, flag: feed.sections[k]?.flag ?? null, liveTraceId: feed.sections[k]?.liveTraceId ?? null })),
        output: output.length > MAX_STORED_OUTPUT ? output.slice(0, MAX_STORED_OUTPUT) + '\n… (truncated)' : output,
      },
    };
    const id = await this.storage.writer.submit((tx) =>
      this.store.insert(tx, { createdAt: body.createdAt, traceId, pathId: body.pathId, sessionId: body.sessionId, result: body.result, argv, detail: body }),
    );
    this.results.inc({ result: body.result });
    if (body.result === 'diverged') this.log.warn(`cross-check ${id} of trace ${traceId}: diverged: ${body.divergence?.explanation}`);
    return { id, ...body };
  }

  async get(id: number): Promise<CrossCheckJson> {
    const row = await this.store.get(id);
    if (!row) throw notFound(`no cross-check ${id}`);
    return { id: row.id, ...(row.detail as Omit<CrossCheckJson, 'id'>) };
  }

  /** Cross-checks of the trace's path (or of the trace alone), newest first, without the ovn-trace output. */
  async ofTrace(traceId: number): Promise<{ traceId: number; latestCrossCheck: number | null; items: Array<Omit<CrossCheckJson, 'ovnTrace'>>; next: null }> {
    const trace = await this.traces.get(traceId, false);
    const rows = await this.store.ofTrace(traceId, trace.pathId);
    const items = rows.map((r) => {
      const { ovnTrace: _omit, id: _id, ...rest } = r.detail as unknown as CrossCheckJson;
      return { id: r.id, ...rest };
    });
    return { traceId, latestCrossCheck: rows[0]?.id ?? null, items, next: null };
  }
}
