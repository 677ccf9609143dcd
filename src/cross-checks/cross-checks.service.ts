// Cross-checks a stored live path against ovn-trace: builds the microflow from the path, runs the
// configured binary, parses its detailed output, compares stage by stage and stores the answer.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import { ApiError, notFound } from '../common/api-error';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { MetricsService } from '../metrics/metrics.service';
import { ReplicasService } from '../replicas/replicas.service';
import { StoreService } from '../storage/store.service';
import { TraceJson } from '../traces/trace-record';
import { TraceRow } from '../traces/trace-store';
import { TracesService } from '../traces/traces.service';
import { Comparison, compareWithSimulation, LogicalFlowResolver } from './compare';
import { buildMicroflow, Microflow, MicroflowError, orderPasses } from './microflow';
import { OvnTraceParseError, OvnTraceRefusedError, parseOvnTrace } from './ovn-trace-parse';
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
  /** The passes compared, in recirculation order. */
  traceIds: number[];
  ovnTrace: { flow: string; ctSections: Array<{ title: string; ctState: string | null; defaulted: boolean }>; output: string };
}

const MAX_STORED_OUTPUT = 256 * 1024;

@Injectable()
export class CrossChecksService {
  private readonly log = new Logger('CrossChecks');
  private readonly results: Counter<'result'>;

  constructor(
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    private readonly storage: StoreService,
    private readonly traces: TracesService,
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

  /** The trace's whole path (or the trace alone when it has none) and the path's verdict. */
  private livePath(trace: TraceJson): { passes: TraceJson[]; verdict: { kinds: string[]; logicalPorts: string[] } } {
    const db = this.storage.db;
    if (trace.pathId == null) return { passes: [this.traces.get(trace.id, true)], verdict: trace.verdict };
    const rows = db.prepare('SELECT * FROM trace WHERE path_id = ?').all(trace.pathId) as TraceRow[];
    const passes = orderPasses(rows.map((r) => this.traces.store.fromRow(db, r, true)));
    const p = db.prepare('SELECT verdict FROM path WHERE id = ?').get(trace.pathId) as { verdict: string } | undefined;
    return { passes, verdict: p ? JSON.parse(p.verdict) : trace.verdict };
  }

  private readonly resolve: LogicalFlowResolver = (prefix) =>
    this.replicas.model
      .owners('0x' + prefix)
      .owners.filter((o) => o.logicalFlow)
      .map((o) => ({ ...o.logicalFlow!, uuid: o.uuid, stale: o.stale }));

  async crossCheck(traceId: number): Promise<CrossCheckJson> {
    const trace = this.traces.get(traceId, false);
    const { passes, verdict } = this.livePath(trace);
    let microflow: Microflow;
    try {
      microflow = buildMicroflow(passes);
    } catch (err) {
      if (err instanceof MicroflowError) throw new ApiError(422, `trace ${traceId}: cannot build an ovn-trace microflow: ${err.message}`);
      throw err;
    }
    const binary = this.config.LIVETRACE_OVN_TRACE;
    const args = ovnTraceArgs(microflow, {
      db: this.config.OVN_SB_DB,
      tls: this.config.LIVETRACE_SSL_PRIVATE_KEY
        ? { privateKey: this.config.LIVETRACE_SSL_PRIVATE_KEY, certificate: this.config.LIVETRACE_SSL_CERTIFICATE, caCert: this.config.LIVETRACE_SSL_CA_CERT }
        : undefined,
      leaderOnly: this.config.LIVETRACE_LEADER_ONLY,
    });
    let output: string;
    let comparison: Comparison;
    let sim;
    try {
      output = await runOvnTrace(binary, args, this.config.LIVETRACE_OVN_TRACE_TIMEOUT_MS);
      sim = parseOvnTrace(output);
      comparison = compareWithSimulation(passes, verdict, sim, this.resolve);
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
      traceId,
      pathId: trace.pathId,
      sessionId: trace.sessionId,
      createdAt: new Date().toISOString(),
      microflow,
      command: { argv, shell: shellQuote(argv) },
      traceIds: passes.map((p) => p.id),
      ovnTrace: {
        flow: sim.flow,
        ctSections: sim.sections.filter((s) => s.conntrack).map((s) => ({ title: s.title, ctState: s.ctState, defaulted: s.defaulted })),
        output: output.length > MAX_STORED_OUTPUT ? output.slice(0, MAX_STORED_OUTPUT) + '\n… (truncated)' : output,
      },
    };
    const id = await this.storage.writer.submit((tx) =>
      Number(
        tx
          .stmt('INSERT INTO cross_check (created_at, trace_id, path_id, session_id, result, command, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(body.createdAt, traceId, body.pathId, body.sessionId, body.result, JSON.stringify(argv), JSON.stringify(body)).lastInsertRowid,
      ),
    );
    this.results.inc({ result: body.result });
    if (body.result === 'diverged') this.log.warn(`cross-check ${id} of trace ${traceId}: diverged: ${body.divergence?.explanation}`);
    return { id, ...body };
  }

  get(id: number): CrossCheckJson {
    const row = this.storage.db.prepare('SELECT id, detail FROM cross_check WHERE id = ?').get(id) as { id: number; detail: string } | undefined;
    if (!row) throw notFound(`no cross-check ${id}`);
    return { id: row.id, ...JSON.parse(row.detail) };
  }

  /** Cross-checks of the trace's path (or of the trace alone), newest first, without the ovn-trace output. */
  ofTrace(traceId: number): { traceId: number; latestCrossCheck: number | null; items: Array<Omit<CrossCheckJson, 'ovnTrace'>>; next: null } {
    const trace = this.traces.get(traceId, false);
    const rows = (
      trace.pathId != null
        ? this.storage.db.prepare('SELECT id, detail FROM cross_check WHERE path_id = ? OR trace_id = ? ORDER BY id DESC LIMIT 100').all(trace.pathId, traceId)
        : this.storage.db.prepare('SELECT id, detail FROM cross_check WHERE trace_id = ? ORDER BY id DESC LIMIT 100').all(traceId)
    ) as Array<{ id: number; detail: string }>;
    const items = rows.map((r) => {
      const { ovnTrace: _omit, id: _id, ...rest } = JSON.parse(r.detail) as CrossCheckJson;
      return { id: r.id, ...rest };
    });
    return { traceId, latestCrossCheck: rows[0]?.id ?? null, items, next: null };
  }
}
