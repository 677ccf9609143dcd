import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One chassis's counters for one session. Every agent carrying out a session writes only its own
 * row, so agents writing at once never overwrite each other; the session's total is their sum.
 */
@Entity('trace_session_counter')
export class TraceSessionCounterEntity {
  @PrimaryColumn('integer', { name: 'session_id' }) sessionId!: number;
  @PrimaryColumn('text') chassis!: string;
  /** JSON counters: selected, traced, stored, notSelected, dropped, droppedBy, failed and skipped (by reason) */
  @Column('text') stats!: string;
}
