import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A request to trace some traffic live (logical port and/or OpenFlow filter), with its counters. */
@Entity('trace_session')
export class TraceSessionEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Column('text') chassis!: string;
  @Column('text', { name: 'created_at' }) createdAt!: string;
  @Column('text') bridge!: string;
  @Column('text', { nullable: true }) filter!: string | null;
  @Column('text', { name: 'logical_port', nullable: true }) logicalPort!: string | null;
  @Column('integer', { name: 'max_traces', nullable: true }) maxTraces!: number | null;
  @Column('integer', { name: 'duration_seconds', nullable: true }) durationSeconds!: number | null;
  @Column('integer', { name: 'include_existing' }) includeExisting!: number;
  @Column('integer', { name: 'cross_check' }) crossCheck!: number;
  @Column('text', { name: 'expires_at', nullable: true }) expiresAt!: string | null;
  /** active | completed (maxTraces reached) | expired | stopped */
  @Column('text') state!: string;
  @Column('text', { name: 'ended_at', nullable: true }) endedAt!: string | null;
  /** JSON counters: selected, traced, stored, notSelected, dropped, droppedBy, failed and skipped (by reason) */
  @Column('text') stats!: string;
  /** JSON list of the chassis that carry the session out; NULL: every chassis. */
  @Column('text', { name: 'on_chassis', nullable: true }) onChassis!: string | null;
}
