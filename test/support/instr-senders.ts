// The reverse cross-chassis link's look for senders as it was before datapath_flow.push_sig
// (44f343b^): the sending chassis's live and recently removed flows (any other chassis's flows when
// the southbound names none), their actions searched for a push and for `dst=<receiver's IP>,`
// with SQLite's instr or PostgreSQL's strpos. Kept as the reference the index's answers are checked
// against (test/integration/storage/push-signature.spec.ts, test/postgres/push-signature.spec.ts)
// and timed against (bench/far-passes).
import type { PushSignatureSeek } from '../../src/ovs/push-signature';
import { PathStore, type LinkFlowRow, type LinkLook, type LinkSide, type LinkWindow } from '../../src/paths/path-store';
import type { SqlReader } from '../../src/storage/sql';

const COLUMNS =
  'f.id, f.chassis, f.key, f.actions, f.recirc_id, f.first_seen, f.last_seen, f.removed_at, (SELECT max(t.id) FROM trace t WHERE t.datapath_flow_id = f.id) AS trace_id';
const TAIL =
  'AND f.first_seen <= ? AND coalesce(f.removed_at, f.last_seen) >= ? AND EXISTS (SELECT 1 FROM trace t WHERE t.datapath_flow_id = f.id) ORDER BY f.first_seen DESC, f.id DESC LIMIT 256';

/** The old look, by the receiver's dst. */
export function instrSenders(q: SqlReader, side: LinkSide, dst: string, from: string, to: string): Promise<LinkFlowRow[]> {
  const fn = q.dialect === 'postgres' ? 'strpos' : 'instr';
  const has = (text: string, needle: string) => `${fn}(${text}, ${needle}) > 0`;
  const match = `(${has('f.actions', "'tnl_push('")} OR ${has('f.actions', "'set(tunnel('")}) AND ${has('f.actions', '?')}`;
  const needle = `dst=${dst},`;
  if (side.chassis !== null)
    return q.all<LinkFlowRow>(
      `SELECT ${COLUMNS} FROM datapath_flow f
        WHERE f.id IN (SELECT id FROM datapath_flow WHERE chassis = ? AND removed_at IS NULL
                       UNION ALL SELECT id FROM datapath_flow WHERE chassis = ? AND removed_at >= ?)
          AND ${match} ${TAIL}`,
      side.chassis, side.chassis, from, needle, to, from,
    );
  return q.all<LinkFlowRow>(`SELECT ${COLUMNS} FROM datapath_flow f WHERE f.chassis <> ? AND ${match} ${TAIL}`, side.notChassis, needle, to, from);
}

/** A PathStore whose senders are the old look (the seek's first exact value leads with the receiver's dst). */
export class InstrSendersPathStore extends PathStore {
  constructor(private readonly reader: SqlReader) {
    super({ db: undefined as never, query: reader });
  }

  override async senders(side: LinkSide, sought: PushSignatureSeek, window: LinkWindow): Promise<LinkLook> {
    return { rows: await instrSenders(this.reader, side, sought.exact[0].split('|')[0], window.from, window.to), bounded: false, reach: { before: null, after: null } };
  }
}
