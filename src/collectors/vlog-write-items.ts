// What the vswitchd log source queues to write, in the order it decided them: an upcall (with the
// flow it installed, once linked), a lifetime's install or deletion, a check's answer, the counters
// held while the spool was full; and the upcall table's row of an upcall read from the log.
import { recircIdHex } from '../ovs/ids';
import { inPort, recircId } from '../ovs/odp-key';
import type { UpcallEvent, VlogRecord } from '../ovs/vlog';
import type { InstalledFlow, Released } from '../upcalls';
import type { UpcallInput } from '../upcalls/upcall-store';
import type { CheckedItem } from './vlog-check-answer';

/** An upcall's log record, as it waits in the linker for the flow it installed. */
export interface Draft {
  record: VlogRecord;
  key: string;
  packet: string;
  dpif: string;
  upcallType: string;
  /** When its line's event happened on the agent's clock (LogClock.heard): retention's age of the row. */
  heard: number;
}

export type WriteItem =
  | { kind: 'upcall'; released: Released<Draft> }
  | { kind: 'flow'; flow: InstalledFlow; time: string; heard: number; thread: string | null; userspace: boolean }
  | { kind: 'flow_del'; ufid: string; time: string; heard: number }
  | CheckedItem
  | { kind: 'held' };

export const draftOf = (record: VlogRecord, e: UpcallEvent, heard: number): Draft => ({ record, key: e.key, packet: e.packet, dpif: e.dpif, upcallType: e.upcallType, heard });

/** The row of upcall `d`, linked to `flow` if the linker found it (and to its lifetime, `datapathFlowId`, if this source keeps them). */
export function upcallRow(d: Draft, flow: InstalledFlow | null, chassis: string, datapathFlowId: number | null): UpcallInput {
  const key = d.record.event?.type === 'upcall' ? d.record.event.parsedKey : null;
  return {
    chassis,
    source: 'vlog',
    time: Number.isFinite(d.record.time) ? new Date(d.record.time).toISOString() : new Date().toISOString(),
    heardAt: new Date(d.heard).toISOString(),
    upcallType: d.upcallType,
    dpif: d.dpif,
    thread: d.record.thread,
    key: d.key,
    packet: d.packet,
    inPort: key ? inPort(key) ?? null : null,
    recircId: key ? recircIdHex(recircId(key)) : null,
    ufid: flow?.ufid ?? null,
    megaUfid: flow?.megaUfid ?? null,
    flowKey: flow?.key ?? null,
    flowActions: flow?.actions ?? null,
    datapathFlowId,
    sampled: true,
    extra: { line: d.record.line, ...(d.record.sequence !== null ? { sequence: d.record.sequence } : {}), ...(d.record.origin ? { origin: d.record.origin } : {}) },
  };
}
