// Datapath flow lifetimes and the recirculation edges between them. Times are RFC 3339 UTC text
// (they sort as text); every lifetime carries its chassis.
import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/** One lifetime of one datapath flow: (chassis, ufid, first seen). */
@Entity('datapath_flow')
@Index('idx_dpflow_ufid', ['ufid', 'firstSeen'])
@Index('idx_dpflow_live', ['chassis', 'removedAt'])
@Index('idx_dpflow_ingest_open', ['heardAt'], { where: "removed_at IS NULL AND source = 'ingest'" })
@Index('idx_dpflow_tunnel', ['tunnelSig', 'chassis', 'removedAt', 'firstSeen'], { where: 'tunnel_sig IS NOT NULL' })
@Index('idx_dpflow_push', ['pushSig', 'chassis', 'removedAt', 'firstSeen'], { where: 'push_sig IS NOT NULL' })
@Index('idx_dpflow_localnet_in', ['localnetIn', 'removedAt', 'firstSeen', 'chassis'], { where: 'localnet_in IS NOT NULL' })
@Index('idx_dpflow_localnet_out', ['localnetOut', 'removedAt', 'firstSeen', 'chassis', 'localnetIn'], { where: 'localnet_out IS NOT NULL' })
export class DatapathFlowEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Column('text') chassis!: string;
  @Column('text') ufid!: string;
  @Column('text', { name: 'first_seen' }) firstSeen!: string;
  @Column('text', { name: 'last_seen' }) lastSeen!: string;
  @Column('text', { name: 'removed_at', nullable: true }) removedAt!: string | null;
  @Column('text', { name: 'removal_reason', nullable: true }) removalReason!: string | null;
  @Column('text', { name: 'in_port', nullable: true }) inPort!: string | null;
  @Column('text', { name: 'recirc_id' }) recircId!: string;
  /** The key with its masks, as dumped. */
  @Column('text') key!: string;
  @Column('text') actions!: string;
  @Column('integer') packets!: number;
  @Column('integer') bytes!: number;
  @Column('text', { nullable: true }) used!: string | null;
  /** poller | vlog | ingest */
  @Column('text') source!: string;
  /** A tunnel arrival's signature, `dst|vni|ingress|egress` (src/ovs/tunnel-signature.ts); NULL for any other flow. */
  @Column('text', { name: 'tunnel_sig', nullable: true }) tunnelSig!: string | null;
  /** The tunnels its actions push, `ip|vni|ingress|egress` (src/ovs/push-signature.ts: `*` where several pushes differ); NULL when none. */
  @Column('text', { name: 'push_sig', nullable: true }) pushSig!: string | null;
  /** Its copies on several PMD threads, so a restart goes on from them (src/collectors/pmd-copies-column.ts); NULL: none stored. */
  @Column('text', { name: 'pmd_copies', nullable: true }) pmdCopies!: string | null;
  /** When the agent last heard an ingested event of it, on its own clock (the idle sweep's); NULL for the other sources. */
  @Column('text', { name: 'heard_at', nullable: true }) heardAt!: string | null;
  /**
   * The localnet port its pass came in by from the physical network, and the first it left by
   * (correlation/annotate.ts localnetEnds), set when the pass is stored: the lifetimes a hop across a
   * provider network pairs (paths/localnet-hops.ts). NULL: not traced, or no such port.
   */
  @Column('text', { name: 'localnet_in', nullable: true }) localnetIn!: string | null;
  @Column('text', { name: 'localnet_out', nullable: true }) localnetOut!: string | null;
}

@Entity('recirc_edge', { withoutRowid: true })
@Index('idx_recirc_child', ['childId'])
export class RecircEdgeEntity {
  @PrimaryColumn('integer', { name: 'parent_id' }) parentId!: number;
  @PrimaryColumn('integer', { name: 'child_id' }) childId!: number;
  @Column('text', { name: 'recirc_id' }) recircId!: string;
}
