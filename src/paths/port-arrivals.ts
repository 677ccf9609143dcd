// `GET /traces?logical_port=`'s far passes of a port's packets (issue 19): a packet that a router
// sent on to another chassis arrives there with the router's port, not the sender's, as the Geneve
// ingress key, so the arrival's own ports never name the port the packet came from. The pass that
// sent it is in the port's list; its path across chassis (cross-chassis.ts, the one link) gives the
// passes on the other chassis, and those are listed right after their sender.
import { Injectable, OnModuleInit } from '@nestjs/common';
import type { TraceListQuery } from '../traces/trace-read-store';
import type { TraceJson } from '../traces';
import { TracesService } from '../traces/traces.service';
import { TraceStore } from '../traces/trace-store';
import { CrossChassisPaths } from './cross-chassis';
import { PathBuilder } from './path-builder';

/**
 * Whether a page item may have a far pass the port's list lacks: it holds the port and tunnels
 * the packet into another logical datapath than the port's (routed on this chassis). A tunnel on
 * the port's own datapath carries the port's key as its ingress, and its arrival is in the list
 * by its own tunnel_in row.
 */
export function sendsAway(t: Pick<TraceJson, 'logicalPorts' | 'verdict'>, portName: string): boolean {
  const tunnels = t.verdict.tunnels ?? [];
  if (!tunnels.length) return false;
  const own = t.logicalPorts.filter((p) => p.name === portName && p.role !== 'tunnel_out');
  if (!own.length) return false;
  return tunnels.some((x) => x.datapath == null || own.every((p) => p.datapath === null || p.datapath !== x.datapath));
}

/** The filters a far pass must meet too; the others (ufid, logical flow, …) never expand. */
export function expands(q: TraceListQuery): boolean {
  return q.portName !== undefined && q.role !== 'outport' && !q.ufid && !q.logicalFlow && !q.northboundUuid && !q.datapath;
}

function meets(t: TraceJson, q: TraceListQuery): boolean {
  if (q.verdict && !t.verdict.kinds.includes(q.verdict as never)) return false;
  if (q.since && t.createdAt < q.since) return false;
  if (q.until && t.createdAt > q.until) return false;
  if (q.chassis && t.chassis !== q.chassis) return false;
  if (q.sessionId && t.sessionId !== q.sessionId) return false;
  return true;
}

@Injectable()
export class PortArrivals implements OnModuleInit {
  constructor(
    private readonly traces: TracesService,
    private readonly store: TraceStore,
    private readonly builder: PathBuilder,
    private readonly crossChassis: CrossChassisPaths,
  ) {}

  onModuleInit(): void {
    this.traces.useFarPasses((items, q) => this.withFarPasses(items, q));
  }

  /** The page with each sender's far passes after it (marked `arrivedFrom`), once each. */
  async withFarPasses(items: TraceJson[], q: TraceListQuery): Promise<TraceJson[]> {
    if (!expands(q)) return items;
    const portName = q.portName!;
    const listed = new Set(items.map((t) => t.id));
    const walkedPaths = new Set<number>();
    const out: TraceJson[] = [];
    for (const t of items) {
      out.push(t);
      if (!sendsAway(t, portName) || (t.pathId !== null && walkedPaths.has(t.pathId))) continue;
      if (t.pathId !== null) walkedPaths.add(t.pathId);
      const built = await this.builder.ofTrace(t.id);
      if (!built) continue;
      const across = await this.crossChassis.extend(built, (id) => this.builder.ofTrace(id));
      if (!across) continue;
      const far = across.segments.filter((s) => s.chassis !== t.chassis).flatMap((s) => s.built.passes).filter((p) => !listed.has(p.id));
      if (!far.length) continue;
      for (const f of await this.store.fromRows(far, q.withSteps)) {
        listed.add(f.id);
        // A pass naming the port itself is listed on its own, where its id puts it.
        if (f.logicalPorts.some((p) => p.name === portName) || !meets(f, q)) continue;
        out.push({ ...f, arrivedFrom: { traceId: t.id, chassis: t.chassis } });
      }
    }
    return out;
  }
}
