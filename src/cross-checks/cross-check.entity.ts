// One cross-check of a live path against ovn-trace: the verdict and the whole answer as JSON.
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity('cross_check')
@Index('idx_cross_check_trace', ['traceId'])
@Index('idx_cross_check_path', ['pathId'])
export class CrossCheckEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Column('text', { name: 'created_at' }) createdAt!: string;
  /** The trace the request named (any pass of the path). */
  @Column('integer', { name: 'trace_id' }) traceId!: number;
  @Column('integer', { name: 'path_id', nullable: true }) pathId!: number | null;
  @Column('integer', { name: 'session_id', nullable: true }) sessionId!: number | null;
  /** match | diverged */
  @Column('text') result!: string;
  /** The exact argument array ovn-trace ran with (JSON), binary first. */
  @Column('text') command!: string;
  /** JSON: microflow, divergence, pipelines, verdicts, ovn-trace output. */
  @Column('text') detail!: string;
}
