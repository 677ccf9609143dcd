// The stored traces (architecture page, "Storage"). Rows are small on purpose: a million traces of
// ~30 steps must fit in a few GB, so a step refers to its OpenFlow rule, owner and logical-flow
// snapshot by integer id, each stored once (of_rule, logical_flow_snapshot, ovn_object: written
// with the traces that cite them). Times are RFC 3339 UTC text (they sort as text).
import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

@Entity('trace')
// GET /traces walks it newest first (created_at, id) checking its filters on the
// index's own columns, so a row that does not match costs no seek into the table (TraceWalkIndex).
@Index('idx_trace_created', ['createdAt', 'id', 'verdictKinds', 'chassis', 'sessionId'])
// By UFID through the datapath flow (idx_dpflow_ufid, then idx_trace_dpflow): an index of every
// trace by its random UFID was a third of the load cost at 1M (bench/api/RESULTS.md). Only traces
// with no datapath flow (ingested, on demand) are indexed by their own UFID.
@Index('idx_trace_ufid_nodp', ['ufid'], { where: 'datapath_flow_id IS NULL' })
@Index('idx_trace_dpflow', ['datapathFlowId'])
@Index('idx_trace_path', ['pathId'])
@Index('idx_trace_dpflow_cover', ['id', 'datapathFlowId'])
// Retention's age of the traces a producer dated (RecordsHeardAt): the tracer's own have none.
@Index('idx_trace_heard', ['heardAt'], { where: 'heard_at IS NOT NULL' })
export class TraceEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Column('text') chassis!: string;
  @Column('text', { name: 'created_at' }) createdAt!: string;
  /** When the agent heard it, on its own clock, when created_at is a producer's (an ingested translation); NULL for the agent's own. */
  @Column('text', { name: 'heard_at', nullable: true }) heardAt!: string | null;
  @Column('integer', { name: 'datapath_flow_id', nullable: true }) datapathFlowId!: number | null;
  @Column('integer', { name: 'upcall_id', nullable: true }) upcallId!: number | null;
  @Column('integer', { name: 'session_id', nullable: true }) sessionId!: number | null;
  @Column('text', { nullable: true }) ufid!: string | null;
  /** detrace | trace | ingested */
  @Column('text') method!: string;
  /** Why this method: the configured one, or the fallback and what the first one answered */
  @Column('text', { name: 'method_reason', nullable: true }) methodReason!: string | null;
  @Column('text', { nullable: true }) bridge!: string | null;
  @Column('text', { name: 'recirc_id' }) recircId!: string;
  @Column('text') flow!: string;
  @Column('text', { name: 'final_flow' }) finalFlow!: string;
  @Column('text') megaflow!: string;
  @Column('text', { name: 'datapath_actions' }) datapathActions!: string;
  /** 1, 0, or null when no trace could be compared */
  @Column('integer', { nullable: true }) consistent!: number | null;
  @Column('text', { name: 'consistent_reason', nullable: true }) consistentReason!: string | null;
  /** Comma-separated verdict kinds, for filtering: output,drop,controller,tunnel,recirculate */
  @Column('text', { name: 'verdict_kinds' }) verdictKinds!: string;
  /** JSON verdict {kinds, logicalPorts, logicalFlow, northbound, …} */
  @Column('text') verdict!: string;
  @Column('integer', { name: 'path_id', nullable: true }) pathId!: number | null;
  @Column('integer', { name: 'step_count' }) stepCount!: number;
  /** JSON: warnings, errors, translation failure, extra owners of colliding cookies */
  @Column('text', { nullable: true }) extra!: string | null;
  /** The OpenFlow steps, packed (step-pack.ts): rule, owner and hint ids per step. */
  @Column('blob') steps!: Buffer;
}

/**
 * Which traces cite a logical-flow snapshot (kind 0) or the northbound object of a step's
 * stage-hint (kind 1, an ovn_object id): a bitmap per bucket of 32 consecutive trace ids
 * (citation-store.ts). The audits and ?logical_flow= / ?northbound_uuid= read it; a
 * trace's own steps are the packed blob trace.steps (step-pack.ts).
 */
@Entity('trace_citation', { withoutRowid: true })
export class TraceCitationEntity {
  @PrimaryColumn('integer') kind!: number;
  @PrimaryColumn('integer') ref!: number;
  /** trace id >> 5 */
  @PrimaryColumn('integer') bucket!: number;
  /** bit i: trace bucket·32 + i cites ref */
  @Column('integer') bits!: number;
}

/** The index behind ?logical_port=: the logical ports a trace's pass or path touched. */
@Entity('trace_port', { withoutRowid: true })
// By id: the stream's walk of one writer slot and its tunnel arrivals (paths/port-arrival-store.ts).
@Index('idx_trace_port_name', ['portName', 'traceId'])
// By time: `GET /traces?logical_port=`, newest first across writers (trace-read-store.ts).
@Index('idx_trace_port_time', ['portName', 'createdAt', 'traceId'])
// The same by role group: `?logical_port=…&role=` reads only that role's rows (migration TracePortRoleIndexes).
@Index('idx_trace_port_in', ['portName', 'createdAt', 'traceId'], { where: "role IN ('inport', 'tunnel_in')" })
@Index('idx_trace_port_out', ['portName', 'createdAt', 'traceId'], { where: "role IN ('outport', 'output', 'tunnel_out')" })
export class TracePortEntity {
  /** Clustered by trace (a trace's ports are one range); the port query walks idx_trace_port_name. */
  @PrimaryColumn('integer', { name: 'trace_id' }) traceId!: number;
  @PrimaryColumn('text', { name: 'port_name' }) portName!: string;
  @PrimaryColumn('text') role!: string;
  /** pass | path */
  @PrimaryColumn('text') scope!: string;
  @Column('text', { name: 'port_uuid', nullable: true }) portUuid!: string | null;
  @Column('text', { name: 'binding_uuid', nullable: true }) bindingUuid!: string | null;
  @Column('text', { nullable: true }) datapath!: string | null;
  /** The trace's created_at, copied (written with the row, trace-store.ts): the port's list is ordered by it. */
  @Column('text', { name: 'created_at' }) createdAt!: string;
}

/**
 * The sessions a trace belongs to besides trace.session_id: a pass several active sessions wanted,
 * stored once (trace-extra-session-store.ts). A row only for such a trace.
 */
@Entity('trace_extra_session', { withoutRowid: true })
// `?session=`: the session's shared traces, one range (migration TraceExtraSession).
@Index('idx_trace_extra_session', ['sessionId', 'traceId'])
export class TraceExtraSessionEntity {
  /** Clustered by trace: deleted, and shipped, with it. */
  @PrimaryColumn('integer', { name: 'trace_id' }) traceId!: number;
  @PrimaryColumn('integer', { name: 'session_id' }) sessionId!: number;
}

/**
 * Port UUIDs (northbound and Port_Binding) to the name trace_port is keyed by: a lookup of a port
 * by UUID costs one row here instead of an index over every trace_port row.
 */
@Entity('logical_port_alias', { withoutRowid: true })
export class LogicalPortAliasEntity {
  @PrimaryColumn('text') uuid!: string;
  @PrimaryColumn('text', { name: 'port_name' }) portName!: string;
}

/** Each distinct OpenFlow rule once. */
@Entity('of_rule')
export class OfRuleEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Index('idx_of_rule_hash', { unique: true }) @Column('text') hash!: string;
  @Column('text', { nullable: true }) bridge!: string | null;
  @Column('integer', { name: 'table_id' }) tableId!: number;
  @Column('integer', { nullable: true }) priority!: number | null;
  @Column('text') match!: string;
  @Column('text') actions!: string;
  @Column('text', { nullable: true }) cookie!: string | null;
}

/** A logical flow as a trace saw it: kept per content, so audits outlive northd's changes. */
@Entity('logical_flow_snapshot')
@Index('idx_lflow_uuid_hash', ['uuid', 'contentHash'], { unique: true })
export class LogicalFlowSnapshotEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Column('text') uuid!: string;
  @Column('text', { name: 'content_hash' }) contentHash!: string;
  /** JSON [{uuid, tunnelKey, name, kind, nbUuid}] */
  @Column('text') datapaths!: string;
  @Column('text') pipeline!: string;
  @Column('integer', { name: 'table_id' }) tableId!: number;
  @Column('text', { nullable: true }) stage!: string | null;
  @Column('integer') priority!: number;
  @Column('text') match!: string;
  @Column('text') actions!: string;
  @Column('text', { nullable: true }) source!: string | null;
  @Column('text', { name: 'stage_hint', nullable: true }) stageHint!: string | null;
  @Column('text', { name: 'external_ids' }) externalIds!: string;
  @Column('text', { name: 'first_seen' }) firstSeen!: string;
  @Column('text', { name: 'last_seen' }) lastSeen!: string;
  @Column('text', { name: 'deleted_at', nullable: true }) deletedAt!: string | null;
}

/** Any other owner (Port_Binding, Multicast_Group, …) or a northbound hint, by content. */
@Entity('ovn_object')
@Index('idx_ovn_object_uuid', ['uuid'])
export class OvnObjectEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Index('idx_ovn_object_hash', { unique: true }) @Column('text') hash!: string;
  /** OVN_Southbound or OVN_Northbound */
  @Column('text', { name: 'db' }) db!: string;
  @Column('text', { name: 'tbl' }) table!: string;
  @Column('text') uuid!: string;
  @Column('text', { nullable: true }) name!: string | null;
  @Column('text') summary!: string;
  /** JSON of whatever else the API shows for it. */
  @Column('text') detail!: string;
}
