// The audits: which datapath flows did this logical flow (or northbound object: an ACL, a NAT
// rule…) take part in, with what outcome. Answered from the snapshots the traces cited, so they
// still answer after northd changes or deletes the row.
import { Injectable } from '@nestjs/common';
import { notFound } from '../common/api-error';
import { ReplicasService } from '../replicas/replicas.service';
import { AuditAnswer, AuditQuery, LogicalFlowStore } from './logical-flow-store';

export const NB_TABLES = [
  'ACL', 'Logical_Switch_Port', 'Logical_Router_Port', 'NAT', 'Load_Balancer', 'Logical_Router_Policy',
  'Logical_Router_Static_Route', 'QoS', 'DHCP_Options', 'Forwarding_Group', 'Logical_Switch', 'Logical_Router',
] as const;

/** What answers the audits off the event loop: the reader threads (src/read-workers/), when there are any. */
export interface AuditReader {
  audit(a: AuditQuery): Promise<AuditAnswer<Buffer>>;
}

@Injectable()
export class LogicalFlowsService {
  private reader?: AuditReader;

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

  /** Set by the reader threads' module (it builds on this one): the audits' reads and JSON go there. */
  useReader(r: AuditReader): void {
    this.reader = r;
  }

  /**
   * Datapath flow lifetimes whose traces cite this logical flow, newest first: the response body,
   * an AuditPage as JSON (written by the store, which splices the stored verdicts in as they are).
   */
  datapathFlowsJson(uuid: string, cursor: number | undefined, limit: number): Promise<string | Buffer> {
    return this.audit({ of: 'logical-flow', uuid, cursor, limit }, () => this.replicas.sb.get('Logical_Flow', uuid), `no logical flow ${uuid} in any trace or in the southbound database`);
  }

  /** The same for a northbound object (the stage-hint of the logical flows a trace cited). */
  northboundFlowsJson(table: string, uuid: string, cursor: number | undefined, limit: number): Promise<string | Buffer> {
    return this.audit({ of: 'northbound', table, uuid, cursor, limit }, () => this.replicas.nb.get(table, uuid), `no ${table} ${uuid} in any trace or in the northbound database`);
  }

  /**
   * Read and written by a reader thread when there are any (their 503s and a lost PostgreSQL's
   * code come back as the /traces pages' do), else here. A row no trace cited is a 404 unless OVN
   * has it (the replicas live on this thread); then its page is the empty one the reads gave.
   */
  private async audit(a: AuditQuery, inOvn: () => unknown, missing: string): Promise<string | Buffer> {
    const r = this.reader ? await this.reader.audit(a) : await this.store.audit(a);
    if (!r.cited && !inOvn()) throw notFound(missing);
    return r.body;
  }
}
