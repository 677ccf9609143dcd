// The write side of paths: stores a traced pass and chains it into its packet's path by the
// recirculation edges, merging paths found late to be one packet's, and keeps each path's
// verdict (path-verdict.ts) up to date. Passes are traced in any order, so the chaining state
// (which flow's pass is in which path) is kept in memory for the live flows.
import { Inject, Injectable } from '@nestjs/common';
import type { AnnotatedTrace } from '../correlation/types';
import { StoreService } from '../storage/store.service';
import type { WriteContext } from '../storage/writer';
import { TraceStore } from '../traces/trace-store';
import { NorthboundPorts } from './northbound-ports';
import { PathState } from './path-state';
import { PathStore } from './path-store';
import { isComplete, PassSummary, summarise } from './path-verdict';

/** How long a removed flow's pass stays known for chaining: children of a removed parent may still be traced. */
const FORGET_AFTER_MS = 60_000;
const MAX_PATHS_IN_MEMORY = 50_000;
/** A packet recirculates a handful of times; this only bounds a loop in the data. */
const MAX_DEPTH = 16;

export interface PassToRecord {
  /** The traced datapath flow: its lifetime id (undefined until the poller stored it), recirc id and UFID. */
  flow: { dbId?: number; recircId: number; ufid: string };
  /** The flow lifetimes it recirculated from and into (the poller's recirculation index). */
  parents: readonly number[];
  children: readonly number[];
  trace: AnnotatedTrace;
  chassis: string;
  consistent: boolean | null;
  reason?: string;
  /** The sessions that wanted the pass: the trace names the first, trace_extra_session the others. */
  sessionIds: readonly number[];
  methodReason: string | null;
}

export interface RecordedPass {
  traceId: number;
  pathId: number;
  /** The path's fate is known (isComplete); null when the path is no longer held in memory. */
  complete: boolean | null;
}

interface Traced {
  traceId: number;
  pathId: number;
  recircId: number;
  pass: PassSummary;
  parents: readonly number[];
}

@Injectable()
export class PathRecorder {
  /** Datapath flow lifetime (dbId) → its pass and path. */
  private readonly traced = new Map<number, Traced>();
  private readonly paths = new Map<number, PathState>();

  constructor(
    @Inject(StoreService) private readonly storage: Pick<StoreService, 'writer'>,
    private readonly store: PathStore,
    private readonly traces: TraceStore,
    private readonly ports: NorthboundPorts,
  ) {}

  /** The flow is gone from the datapath: its pass is forgotten for chaining a little later. */
  forgetLater(dbId: number): void {
    setTimeout(() => this.traced.delete(dbId), FORGET_AFTER_MS).unref();
  }

  async record(p: PassToRecord): Promise<RecordedPass> {
    const { flow, trace } = p;
    const flowId = flow.dbId ?? null;
    const portUuids = this.ports.uuids(trace.ports);
    const now = new Date().toISOString();
    const { traceId, pathId } = await this.storage.writer.submit((tx) => {
      // Passes are traced in any order: a pass that links two paths already stored merges them.
      // A path is one packet: it never holds two passes with the same recirc id. A megaflow
      // shared by several packets' passes (its children) stays in the first packet's path.
      const linked = [...new Set([...p.parents, ...p.children].map((id) => this.traced.get(id)?.pathId).filter((id): id is number => id !== undefined))]
        .filter((id) => !this.paths.get(id)?.hasRecirc(flow.recircId))
        .sort((a, b) => a - b);
      let pathId = linked[0];
      if (pathId === undefined) {
        pathId = this.store.create(tx, p.chassis, now);
        // Earlier passes this packet shares with others (megaflows) stay in the first packet's
        // path, but they are this packet's passes too: its path sees their ports and verdicts.
        const state = new PathState();
        for (const [dbId, t] of this.ancestors(p.parents)) state.add({ traceId: t.traceId, flowId: dbId, recircId: t.recircId, pass: t.pass, parents: t.parents });
        this.paths.set(pathId, state);
      }
      const sharedWith: number[] = [];
      for (const other of linked.slice(1)) {
        const a = this.paths.get(pathId)?.recircIds() ?? new Set<number>();
        const b = this.paths.get(other)?.recircIds() ?? new Set<number>();
        if (![...b].some((r) => a.has(r))) this.merge(tx, pathId, other);
        else sharedWith.push(other);
      }
      const id = this.traces.insert(tx, {
        trace,
        chassis: p.chassis,
        createdAt: now,
        ufid: flow.ufid,
        datapathFlowId: flowId,
        sessionId: p.sessionIds[0] ?? null,
        extraSessionIds: p.sessionIds.slice(1),
        pathId,
        consistent: p.consistent,
        consistentReason: p.reason ?? null,
        methodReason: p.methodReason,
        portUuids,
      });
      const pass = { traceId: id, flowId, recircId: flow.recircId, pass: trace, parents: p.parents };
      if (flowId !== null) this.traced.set(flowId, { traceId: id, pathId, recircId: flow.recircId, pass: summarise(trace), parents: p.parents });
      this.addToPath(tx, pathId, pass, portUuids, now);
      // A pass shared by several packets (a megaflow after their recirculation, e.g. the backend's
      // output flow of a load-balanced connection's packets) is stored in one packet's path; the
      // other packets' paths see it too, as they see shared ancestors, or they stay incomplete.
      for (const other of sharedWith) {
        const st = this.paths.get(other);
        if (!st || st.hasRecirc(flow.recircId)) continue;
        st.add(pass);
        this.store.setVerdict(tx, other, st.verdict(), now);
      }
      return { traceId: id, pathId };
    });
    const state = this.paths.get(pathId);
    return { traceId, pathId, complete: state ? isComplete(state.verdict()) : null };
  }

  /**
   * The passes ofproto/trace simulated for a hand-typed flow (POST /traces), in its order, as one new
   * path: stored together in one transaction, with no datapath flow (so no recirc_edge: edge-order.ts
   * links them by what each queued) and never chained with live passes, whose conntrack state they
   * only assumed. Every pass gets the path's ports (scope 'path'), as a live packet's do.
   */
  async recordSimulated(passes: readonly AnnotatedTrace[], chassis: string): Promise<{ pathId: number; traceIds: number[] }> {
    const uuids = passes.map((t) => this.ports.uuids(t.ports));
    const now = new Date().toISOString();
    return this.storage.writer.submit((tx) => {
      const pathId = this.store.create(tx, chassis, now);
      const state = new PathState();
      const traceIds = passes.map((trace, i) => {
        const id = this.traces.insert(tx, { trace, chassis, createdAt: now, ufid: null, datapathFlowId: null, pathId, consistent: null, portUuids: uuids[i] });
        state.add({ traceId: id, flowId: null, recircId: Number(trace.recircId), pass: trace, parents: [], simulated: true });
        return id;
      });
      this.writePath(tx, pathId, state, new Map(uuids.flatMap((m) => [...m])), now);
      return { pathId, traceIds };
    });
  }

  /** The traced earlier passes of a flow with these parents (one parent per level, nearest first). */
  private ancestors(parents: readonly number[]): Array<[number, Traced]> {
    const out: Array<[number, Traced]> = [];
    const seen = new Set<number>();
    let level = parents;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const id = level.find((x) => !seen.has(x) && this.traced.has(x));
      if (id === undefined) break;
      seen.add(id);
      const t = this.traced.get(id)!;
      out.push([id, t]);
      level = t.parents;
    }
    return out;
  }

  /** Moves every pass of path `from` into path `into` (same packet, found out late). */
  private merge(tx: WriteContext, into: number, from: number): void {
    this.store.merge(tx, into, from);
    const target = this.paths.get(into) ?? new PathState();
    const source = this.paths.get(from);
    if (source) target.absorb(source);
    this.paths.set(into, target);
    this.paths.delete(from);
    for (const [dbId, t] of this.traced) if (t.pathId === from) this.traced.set(dbId, { ...t, pathId: into });
  }

  private addToPath(tx: WriteContext, pathId: number, pass: Parameters<PathState['add']>[0], uuids: Map<string, string>, now: string): void {
    let st = this.paths.get(pathId);
    if (!st) this.paths.set(pathId, (st = new PathState()));
    st.add(pass);
    this.writePath(tx, pathId, st, uuids, now);
    if (this.paths.size > MAX_PATHS_IN_MEMORY) this.paths.delete(this.paths.keys().next().value!);
  }

  /** Every pass of the packet carries the ports of the whole path (scope 'path'); the path its verdict. */
  private writePath(tx: WriteContext, pathId: number, st: PathState, uuids: Map<string, string>, now: string): void {
    const all = st.ports();
    const known = new Map([...this.ports.uuids(all), ...uuids]);
    const ports = all.map((x) => ({ name: x.logicalPort, uuid: known.get(x.logicalPort) ?? null, bindingUuid: x.portBindingUuid, datapath: x.datapath, role: x.role }));
    for (const id of st.traceIds) this.traces.addPathPorts(tx, id, ports);
    this.store.setVerdict(tx, pathId, st.verdict(), now);
  }
}
