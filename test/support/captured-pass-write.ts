// One captured pass written as the tracer writes it, inside one writer job: its datapath flow
// lifetime (ufid from `k`, ended at `at` when `ended`), the packet's path (made by its first pass),
// the trace with its port, and the path's ports. The retention specs fill their stores with these.
import type { AnnotatedTrace } from '../../src/correlation/types';
import type { WriteContext } from '../../src/storage/writer';
import type { TraceStore } from '../../src/traces/trace-store';

export function writeCapturedPass(
  tx: WriteContext,
  traces: TraceStore,
  pass: AnnotatedTrace,
  o: { at: string; k: number; ended: boolean; pathId?: number },
): { id: number; pathId: number } {
  const flow = Number(
    tx
      .stmt(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES ('hv1', ?, ?, ?, ?, ?, ?, ?, 1, 1, 'poller')`)
      .run(`00000000-0000-4000-8000-${String(o.k).padStart(12, '0')}`, o.at, o.at, o.ended ? o.at : null, pass.recircId, pass.megaflow, pass.datapathActions).lastInsertRowid,
  );
  const pathId = o.pathId ?? Number(tx.stmt(`INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', ?, ?, '{}')`).run(o.at, o.at).lastInsertRowid);
  const id = traces.insert(tx, {
    trace: pass,
    chassis: 'hv1',
    createdAt: o.at,
    datapathFlowId: flow,
    pathId,
    portUuids: new Map([[pass.ports[0]?.logicalPort ?? 'x', `11111111-0000-4000-8000-${String(o.k).padStart(12, '0')}`]]),
  });
  traces.addPathPorts(tx, id, pass.ports.map((p) => ({ name: p.logicalPort, uuid: null, bindingUuid: p.portBindingUuid, datapath: p.datapath, role: p.role })));
  return { id, pathId };
}
