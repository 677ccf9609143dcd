// A traced first pass on a chassis for the cross-chassis link tests and bench: a datapath flow
// lifetime from a captured line, its path, and one trace of it (no steps), written in the caller's
// writer transaction; the link look and the pick read nothing else.
import type { Database } from 'better-sqlite3';
import { DatapathFlowStore } from '../../src/datapath-flows/datapath-flow-store';
import { recircIdHex } from '../../src/ovs/ids';
import type { WriteContext } from '../../src/storage/writer';
import type { CapturedFlow } from './captured-multichassis';

export interface TracedPass {
  chassis: string;
  l: CapturedFlow;
  ufid: string;
  /** Epoch ms the flow was first seen (`fromText`, when given, is stored instead: a relayed vlog's own text). */
  from: number;
  fromText?: string;
  /** Removed then, or still live (null). */
  to: number | null;
  /** Last seen. */
  seen: number;
  /** The trace's verdict kinds and tunnels (an output by default). */
  verdict?: { kinds: string[]; tunnels?: unknown[] };
}

const iso = (ms: number) => new Date(ms).toISOString();
const verdictJson = (kinds: string[], tunnels: unknown[]) => JSON.stringify({ kinds, logicalPorts: [], logicalFlow: null, northbound: null, tunnels, recircIds: [], reason: null });

/** A writer of traced passes into this store's file; each call returns the trace id. */
export function tracedPasses(db: Database): (tx: WriteContext, p: TracedPass) => number {
  const flows = new DatapathFlowStore({ db });
  const insPath = db.prepare("INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES (?, ?, ?, '{}')");
  const insTrace = db.prepare(
    `INSERT INTO trace (chassis, created_at, datapath_flow_id, ufid, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, path_id, step_count, steps)
     VALUES (?, ?, ?, NULL, 'trace', 'br-int', ?, '', '', '', ?, ?, ?, ?, 0, x'')`,
  );
  return (tx, { chassis, l, ufid, from, fromText, to, seen, verdict = { kinds: ['output'] } }) => {
    const flow = flows.create(tx, {
      chassis, ufid, firstSeen: fromText ?? iso(from), lastSeen: iso(seen), inPort: null, recircId: recircIdHex(l.recirc),
      key: l.key, actions: l.actions, packets: 1, bytes: 98, used: null, source: 'poller',
    });
    if (to !== null) flows.close(tx, flow, iso(to), 'gone');
    const path = Number(insPath.run(chassis, iso(from), iso(from)).lastInsertRowid);
    return Number(insTrace.run(chassis, iso(from), flow, recircIdHex(l.recirc), l.actions, `,${verdict.kinds.join(',')},`, verdictJson(verdict.kinds, verdict.tunnels ?? []), path).lastInsertRowid);
  };
}
