// Upcalls (from vswitchd's log or ingested). Times are RFC 3339 UTC text, as everywhere in the store.
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One packet the datapath sent up to ovs-vswitchd, and the flow it installed when known. */
@Entity('upcall')
@Index('idx_upcall_time', ['time'])
@Index('idx_upcall_ufid', ['ufid'])
@Index('idx_upcall_chassis', ['chassis', 'time'])
@Index('idx_upcall_heard', ['heardAt'])
export class UpcallEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Column('text') chassis!: string;
  /** vlog (ovs-vswitchd's log file or syslog), or the ingest source name (retis, usdt, …). */
  @Column('text') source!: string;
  /** The producer's event id (ingest); null from the log. */
  @Column('text', { name: 'event_id', nullable: true }) eventId!: string | null;
  /** The producer's time (vswitchd's log line, the ingested event's). */
  @Column('text') time!: string;
  /** When the agent heard it, on its own clock (retention's age; migration RecordsHeardAt). */
  @Column('text', { name: 'heard_at', nullable: true }) heardAt!: string | null;
  /** miss, action, … */
  @Column('text', { name: 'upcall_type', nullable: true }) upcallType!: string | null;
  @Column('text', { nullable: true }) dpif!: string | null;
  @Column('text', { nullable: true }) thread!: string | null;
  /** Full ODP key of the packet. */
  @Column('text', { nullable: true }) key!: string | null;
  @Column('text', { nullable: true }) packet!: string | null;
  @Column('text', { name: 'in_port', nullable: true }) inPort!: string | null;
  @Column('text', { name: 'recirc_id', nullable: true }) recircId!: string | null;
  /** The flow it installed (by key under mask from the log; given by the producer on ingest). */
  @Column('text', { nullable: true }) ufid!: string | null;
  @Column('text', { name: 'mega_ufid', nullable: true }) megaUfid!: string | null;
  @Column('text', { name: 'flow_key', nullable: true }) flowKey!: string | null;
  @Column('text', { name: 'flow_actions', nullable: true }) flowActions!: string | null;
  /** Set when the lifetime was known at write time; otherwise joined by (chassis, ufid, time). */
  @Column('integer', { name: 'datapath_flow_id', nullable: true }) datapathFlowId!: number | null;
  /** 1 when the source samples (the log drops lines under its rate limits). */
  @Column('integer') sampled!: number;
  /** JSON: queueId, installed, datapathActions, log line, … */
  @Column('text', { nullable: true }) extra!: string | null;
}
