// `GET /traces?logical_port=`'s far passes of a port's packets (issue 19): a packet that a router
// sent on to another chassis arrives there with the router's port, not the sender's, as the Geneve
// ingress key, so the arrival's own ports never name the port the packet came from. The pass that
// sent it is in the port's list; its path across chassis (cross-chassis.ts, the one link) gives the
// passes on the other chassis, and those are listed right after their sender.
import { Injectable, OnModuleInit } from '@nestjs/common';
import type { TraceListQuery } from '../traces/trace-read-store';
import type { TraceJson } from '../traces';
import { looksForFarPasses, TracesService } from '../traces/traces.service';
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
    if (!looksForFarPasses(q)) return items;
    const portName = q.portName!;
    // One walk a path (a sender's passes share it); the walks at once: on PostgreSQL each is a
    // few round trips, and the pool runs them side by side.
    const walked = new Set<number>();
    const senders = items.filter((t) => {
      if (!sendsAway(t, portName)) return false;
      if (t.pathId === null) return true;
      if (walked.has(t.pathId)) return false;
      walked.add(t.pathId);
      return true;
    });
    const farOf = new Map<number, TraceJson[]>();
    await Promise.all(senders.map(async (t) => farOf.set(t.id, await this.farPasses(t, q.withSteps))));
    const listed = new Set(items.map((t) => t.id));
    const out: TraceJson[] = [];
    for (const t of items) {
      out.push(t);
      for (const f of farOf.get(t.id) ?? []) {
        if (listed.has(f.id)) continue;
        listed.add(f.id);
        // A pass naming the port itself is listed on its own, where its id puts it.
        if (f.logicalPorts.some((p) => p.name === portName) || !meets(f, q)) continue;
        out.push({ ...f, arrivedFrom: { traceId: t.id, chassis: t.chassis } });
      }
    }
    return out;
  }

  /** The passes of `t`'s packet on other chassis, by the one cross-chassis link. */
  private async farPasses(t: TraceJson, withSteps: boolean): Promise<TraceJson[]> {
    const built = await this.builder.ofTrace(t.id);
    if (!built) return [];
    const across = await this.crossChassis.extend(built, (id) => this.builder.ofTrace(id));
    if (!across) return [];
    const far = across.segments.filter((s) => s.chassis !== t.chassis).flatMap((s) => s.built.passes);
    return far.length ? this.store.fromRows(far, withSteps) : [];
  }
}
