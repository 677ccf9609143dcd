// The ledger of ingested events. Times are RFC 3339 UTC text, as everywhere in the store.
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Every accepted ingested event once: the unique (source, event_id) is what makes a repeat a no-op. */
@Entity('ingest_event')
@Index('idx_ingest_event_id', ['source', 'eventId'], { unique: true })
/** The removals by UFID: one heard before the install it ends is found when that install comes (ingest-write.ts). */
@Index('idx_ingest_event_ufid', ['ufid', 'time'], { where: "ufid IS NOT NULL AND type IN ('ukey_removed', 'ukey_revalidated')" })
export class IngestEventEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Column('text') source!: string;
  @Column('text', { name: 'event_id' }) eventId!: string;
  @Column('text') type!: string;
  @Column('text') time!: string;
  @Column('text', { name: 'received_at' }) receivedAt!: string;
  @Column('text') chassis!: string;
  /** The UFID the event names, if any. */
  @Column('text', { nullable: true }) ufid!: string | null;
  /** The row the event became (upcall, datapath_flow or trace id), when it became one. */
  @Column('integer', { name: 'ref_id', nullable: true }) refId!: number | null;
  /** The event as accepted (JSON). */
  @Column('text') body!: string;
}
