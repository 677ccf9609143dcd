// The audits: which datapath flows did this logical flow (or northbound object: an ACL, a NAT
// rule…) take part in, with what outcome. Answered from the snapshots the traces cited, so they
// still answer after northd changes or deletes the row.
import { Injectable } from '@nestjs/common';
import { notFound } from '../common/api-error';
import { ReplicasService } from '../replicas/replicas.service';
import { LogicalFlowStore } from './logical-flow-store';

export const NB_TABLES = [
  'ACL', 'Logical_Switch_Port', 'Logical_Router_Port', 'NAT', 'Load_Balancer', 'Logical_Router_Policy',
  'Logical_Router_Static_Route', 'QoS', 'DHCP_Options', 'Forwarding_Group', 'Logical_Switch', 'Logical_Router',
] as const;

@Injectable()
export class LogicalFlowsService {
  constructor(
    private readonly store: LogicalFlowStore,
    private readonly replicas: ReplicasService,
  ) {}

  async get(uuid: string) {
    const snapshots = await this.store.snapshots(uuid);
    const live = this.replicas.sb.get('Logical_Flow', uuid);
    const tomb = live ? undefined : this.replicas.sb.tombstone('Logical_Flow', uuid);
    if (!snapshots.length && !live && !tomb) throw notFound(`no logical flow ${uuid} (neither in the southbound database nor in any trace)`);
    return {
      uuid,
      state: live ? 'live' : tomb ? 'deleted' : 'unknown',
      current: live ? this.replicas.model.snapshot(live) : tomb ? this.replicas.model.snapshot(tomb.row) : null,
      snapshots,
    };
  }

  /**
   * Datapath flow lifetimes whose traces cite this logical flow, newest first: the response body,
   * an AuditPage as JSON (written by the store, which splices the stored verdicts in as they are).
   */
  async datapathFlowsJson(uuid: string, cursor: number | undefined, limit: number): Promise<string> {
    const ids = await this.store.snapshotIds(uuid);
    if (!ids.length && !this.replicas.sb.get('Logical_Flow', uuid)) throw notFound(`no logical flow ${uuid} in any trace or in the southbound database`);
    return this.store.flowsCitingSnapshots(ids, cursor, limit);
  }

  /** The same for a northbound object (the stage-hint of the logical flows a trace cited). */
  async northboundFlowsJson(table: string, uuid: string, cursor: number | undefined, limit: number): Promise<string> {
    const ids = await this.store.northboundIds(table, uuid);
    if (!ids.length && !this.replicas.nb.get(table, uuid)) throw notFound(`no ${table} ${uuid} in any trace or in the northbound database`);
    return this.store.flowsCitingNorthbound(ids, cursor, limit);
  }
}
