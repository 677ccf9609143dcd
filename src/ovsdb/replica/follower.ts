// Keeps a Replica equal to one database on a (possibly clustered) set of servers, as the OVS IDL
// does (lib/ovsdb-cs.c): on every connection it first reads _Server.Database and refuses a member
// that is not connected to its cluster, not the leader when leader-only, or older than what we
// already have (its index below the highest seen); then it monitors, resuming with
// monitor_cond_since from the last transaction id when the server has it. A full dump
// (found=false, or a server without monitor_cond_since) replaces the cache, never merges into it.
import { EventEmitter } from 'node:events';
import { OvsdbClient } from '../client';
import { OvsdbWireError } from '../errors';
import type { JsonRpcConnection } from '../jsonrpc';
import type { Remote } from '../remote';
import { OvsdbSession, SessionOptions } from '../session';
import { MonitorMethod, RowUpdate2, TableUpdates2, ZERO_TXN_ID } from '../types';
import { Replica } from './replica';

export class StaleServerError extends OvsdbWireError {}

export interface FollowerOptions extends Omit<SessionOptions, 'onConnected'> {
  leaderOnly?: boolean;
}

export interface FollowerStatus {
  database: string;
  remote: string | null;
  model: string | null;
  synced: boolean;
  lastTxnId: string | null;
  /** Highest raft index seen on any member (clustered databases). */
  index: number | null;
  fullDumps: number;
  resumes: number;
  updatesApplied: number;
  rowsChanged: number;
  lastUpdateAt: string | null;
  lastError: string | null;
  skipped: string[];
  rows: Record<string, number>;
}

export interface FollowerEvents {
  synced: [how: 'full' | 'resumed'];
  unsynced: [reason: string];
  log: [level: 'info' | 'warn', message: string];
}

interface ServerDatabaseRow {
  model: string;
  connected: boolean;
  leader: boolean;
  index: number | null;
  /** The cluster's id: a raft index only compares with another of the same cluster. */
  cid: string | null;
}

const MONITOR_ID = 'livetrace';
const SERVER_MONITOR_ID = 'livetrace-server';

function serverRow(row: Record<string, unknown> | undefined): ServerDatabaseRow | undefined {
  if (!row) return undefined;
  const idx = row.index;
  const index = Array.isArray(idx) ? (idx[0] === 'set' ? ((idx[1] as number[])[0] ?? null) : null) : typeof idx === 'number' ? idx : null;
  const c = row.cid; // ["uuid", U], or ["set", []] when not known yet
  const cid = Array.isArray(c) && c[0] === 'uuid' && typeof c[1] === 'string' ? c[1] : null;
  return { model: String(row.model ?? 'standalone'), connected: row.connected !== false, leader: row.leader !== false, index, cid };
}

export class ReplicaFollower extends EventEmitter<FollowerEvents> {
  readonly session: OvsdbSession;
  private lastTxnId: string = ZERO_TXN_ID;
  private highestIndex: number | null = null;
  private highestIndexCid: string | null = null;
  private status: Omit<FollowerStatus, 'rows' | 'skipped' | 'database'> = {
    remote: null,
    model: null,
    synced: false,
    lastTxnId: null,
    index: null,
    fullDumps: 0,
    resumes: 0,
    updatesApplied: 0,
    rowsChanged: 0,
    lastUpdateAt: null,
    lastError: null,
  };

  constructor(
    readonly replica: Replica,
    private readonly options: FollowerOptions,
  ) {
    super();
    this.session = new OvsdbSession({ ...options, onConnected: (conn, remote) => this.onConnected(conn, remote) });
    this.session.on('disconnected', (remote, reason) => {
      this.status.synced = false;
      this.status.lastError = `${remote}: ${reason}`;
      this.emit('unsynced', `${remote}: ${reason}`);
    });
    this.session.on('error', (err) => {
      this.status.lastError = err.message;
      this.emit('log', 'warn', err.message);
    });
    replica.on('change', () => this.status.rowsChanged++);
  }

  start(): this {
    this.session.start();
    return this;
  }

  close(): void {
    this.session.close();
  }

  /**
   * Resolves true once the replica holds a complete copy, or false after timeoutMs (none by
   * default). A wait that times out takes its listener with it: callers that give up (an API
   * request waiting a few seconds while a database is down) left one 'synced' listener each behind.
   */
  waitSynced(timeoutMs?: number): Promise<boolean> {
    if (this.status.synced) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onSynced = () => {
        if (timer) clearTimeout(timer);
        resolve(true);
      };
      this.once('synced', onSynced);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.off('synced', onSynced);
          resolve(this.status.synced);
        }, timeoutMs);
      }
    });
  }

  getStatus(): FollowerStatus {
    return {
      database: this.replica.database,
      ...this.status,
      lastTxnId: this.lastTxnId === ZERO_TXN_ID ? null : this.lastTxnId,
      index: this.highestIndex,
      skipped: [...this.replica.skipped],
      rows: this.replica.counts(),
    };
  }

  private async onConnected(conn: JsonRpcConnection, remote: Remote): Promise<void> {
    const db = this.replica.database;
    // What the server lacks is learnt afresh on each connection (its own ServerFeatures), as
    // lib/ovsdb-cs.c starts every connection at monitor_cond_since: the next remote may be newer.
    const client = new OvsdbClient(conn);
    this.status.remote = remote.text;
    // The _Server monitor is a monitor_cond_since one when the server has it (every ovsdb-server
    // since 2.12): its changes then come as update3, never update2. Heard from the monitor's
    // request on: a step-down sent while we still connect (get_schema, the data monitor) went to
    // no listener, and a leader-only replica stayed on that member for as long as it held.
    client.on('update2', (id, updates) => id === SERVER_MONITOR_ID && this.onServerUpdate(conn, remote, updates));
    client.on('update3', (id, _txn, updates) => id === SERVER_MONITOR_ID && this.onServerUpdate(conn, remote, updates));
    const server = await this.checkServer(client, remote);
    this.status.model = server?.model ?? 'standalone';

    this.replica.configure(await client.getSchema(db));

    // Notifications can arrive in the same chunk as the monitor reply, before our await resumes:
    // hold them until the reply is applied.
    let held: Array<() => void> | null = [];
    const run = (fn: () => void) => (held ? held.push(fn) : fn());
    client.on('update2', (id, updates) => id === MONITOR_ID && run(() => this.apply(updates)));
    client.on('update3', (id, txn, updates) => id === MONITOR_ID && run(() => this.apply(updates, txn)));
    client.on('update', (id, updates) => id === MONITOR_ID && run(() => this.afterApply(() => this.replica.applyUpdate(updates))));

    // The reply's rows arrive in batches while the rest of it is still coming. A full dump
    // ("initial" rows, or legacy monitor) goes into the replica batch by batch; until it ends the
    // replica mixes old and new rows, so the resume point is dropped first: should the connection
    // fail halfway, the next sync is a full dump again. Changes since our transaction (found=true)
    // are held and applied together once the reply is whole, since a diff must not apply twice.
    let streamed: 'dump' | 'changes' | null = null;
    const changes: TableUpdates2 = {};
    const onRows = (table: string, rows: Record<string, unknown>, method: MonitorMethod) => {
      if (streamed === null) {
        let first: unknown;
        for (const uuid in rows) {
          first = rows[uuid];
          break;
        }
        streamed = method === 'monitor' || (typeof first === 'object' && first !== null && 'initial' in first) ? 'dump' : 'changes';
        if (streamed === 'dump') {
          this.lastTxnId = ZERO_TXN_ID;
          this.replica.beginDump();
        }
      }
      if (streamed === 'dump') this.applyOrResync(() => this.replica.applyDumpBatch(table, rows as Record<string, RowUpdate2>, method === 'monitor'));
      else Object.assign((changes[table] ??= {}), rows);
    };
    const result = await client.monitor(db, MONITOR_ID, this.replica.monitorRequests(), { lastTxnId: this.lastTxnId, onRows });
    if (streamed === 'dump') {
      // What was not streamed (a server that does not write "id" first sends it all here).
      for (const [table, rows] of Object.entries(result.updates)) {
        if (Object.keys(rows).length > 0) this.applyOrResync(() => this.replica.applyDumpBatch(table, rows, result.method === 'monitor'));
      }
      this.replica.endDump();
    }
    for (const [table, rows] of Object.entries(changes)) Object.assign((result.updates[table] ??= {}), rows);
    if (result.method === 'monitor_cond_since' && result.found) {
      this.applyOrResync(() => this.replica.applyUpdate2(result.updates));
      this.status.resumes++;
      this.lastTxnId = result.lastTxnId;
      this.emit('log', 'info', `${db}: resumed from ${remote.text} after transaction ${result.lastTxnId}`);
    } else {
      if (streamed !== 'dump') {
        if (result.method === 'monitor') this.applyOrResync(() => this.replica.replaceAll(result.updates, true));
        else this.applyOrResync(() => this.replica.replaceAll(result.updates));
      }
      this.status.fullDumps++;
      this.lastTxnId = result.method === 'monitor_cond_since' ? result.lastTxnId : ZERO_TXN_ID;
      this.emit('log', 'info', `${db}: full copy from ${remote.text} (${result.method})`);
    }
    for (const fn of held) fn();
    held = null;
    this.status.synced = true;
    this.status.lastError = null;
    this.status.lastUpdateAt = new Date().toISOString();
    this.emit('synced', result.method === 'monitor_cond_since' && result.found ? 'resumed' : 'full');
  }

  private apply(updates: TableUpdates2, txn?: string): void {
    this.afterApply(() => this.replica.applyUpdate2(updates));
    if (txn) this.lastTxnId = txn;
  }

  private afterApply(fn: () => void): void {
    this.applyOrResync(fn);
    this.status.updatesApplied++;
    this.status.lastUpdateAt = new Date().toISOString();
  }

  /**
   * Applies to the replica. An update that fails halfway (malformed, or inconsistent: an insert
   * of a row the replica has, a modify or delete of one it lacks) leaves the replica at no transaction of the server's: resuming from the last
   * one would apply diffs on top of part of them, so the next sync must be a full copy. The error
   * goes on to close the connection (JsonRpcConnection, or the failed onConnected hook).
   */
  private applyOrResync(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.lastTxnId = ZERO_TXN_ID;
      throw err;
    }
  }

  /** Reads this member's _Server.Database row and refuses it when it cannot serve us. */
  private async checkServer(client: OvsdbClient, remote: Remote): Promise<ServerDatabaseRow | undefined> {
    const db = this.replica.database;
    let row: ServerDatabaseRow | undefined;
    try {
      const [res] = await client.transact('_Server', [
        { op: 'select', table: 'Database', where: [['name', '==', db]], columns: ['model', 'connected', 'leader', 'index', 'cid'] },
      ]);
      row = serverRow(res.rows?.[0]);
    } catch {
      return undefined; // a server too old for _Server: standalone by definition
    }
    if (!row) throw new StaleServerError({ remote: remote.text, db }, `server has no database ${db}`);
    this.refuseIfUnfit(row, remote);
    if (row.model === 'clustered') {
      // Follow leadership and cluster connectivity while connected, as the IDL does. The monitor's
      // own rows are judged too: the member may have changed since the select.
      const monitored = await client.monitor('_Server', SERVER_MONITOR_ID, {
        Database: { columns: ['name', 'model', 'connected', 'leader', 'index', 'cid'], where: [['name', '==', db]] },
      });
      const first = Object.values(monitored.updates.Database ?? {})[0] as { initial?: object; new?: object } | undefined;
      const wire = first?.initial ?? first?.new;
      // An "initial" row leaves out the columns at their default: a missing leader is false.
      const now = serverRow(wire && { connected: false, leader: false, ...wire });
      if (!now) throw new StaleServerError({ remote: remote.text, db }, `server has no database ${db}`);
      this.refuseIfUnfit(now, remote);
      return now;
    }
    return row;
  }

  private refuseIfUnfit(row: ServerDatabaseRow, remote: Remote): void {
    const ctx = { remote: remote.text, db: this.replica.database };
    if (row.model === 'clustered' && !row.connected) throw new StaleServerError(ctx, 'member is not connected to its cluster');
    if (row.model === 'clustered' && this.options.leaderOnly && !row.leader) throw new StaleServerError(ctx, 'member is not the leader (leader-only)');
    if (row.index !== null) {
      // A cluster destroyed and created again (create-cluster after losing every member, a backup
      // restored into a new cluster) counts from a low index under a new id: every member of it
      // looked stale for good (the OVS IDL needs sb-cluster-state-reset by hand).
      if (row.cid !== null && this.highestIndexCid !== null && row.cid !== this.highestIndexCid) {
        this.emit('log', 'warn', `${remote.text}: ${this.replica.database} is another cluster (id ${row.cid}, was ${this.highestIndexCid}): raft index ${this.highestIndex} no longer applies`);
        this.highestIndex = null;
      }
      if (this.highestIndex !== null && row.index < this.highestIndex) {
        throw new StaleServerError(ctx, `member is stale: raft index ${row.index} is below ${this.highestIndex} already seen`);
      }
      this.highestIndex = row.index;
      if (row.cid !== null) this.highestIndexCid = row.cid;
    }
  }

  private onServerUpdate(conn: JsonRpcConnection, remote: Remote, updates: TableUpdates2): void {
    for (const u of Object.values(updates.Database ?? {})) {
      const wire = u.modify ?? u.insert ?? u.initial;
      if (!wire) continue;
      const row = serverRow(wire as Record<string, unknown>);
      if (!row) continue;
      try {
        if (u.modify) {
          // modify carries only changed columns: only judge what changed.
          if ('connected' in wire && !row.connected) throw new StaleServerError({ remote: remote.text }, 'member lost its cluster');
          if ('leader' in wire && this.options.leaderOnly && !row.leader) throw new StaleServerError({ remote: remote.text }, 'member is no longer the leader');
          if ('index' in wire && row.index !== null) this.highestIndex = Math.max(this.highestIndex ?? 0, row.index);
        }
      } catch (err) {
        this.emit('log', 'warn', (err as Error).message);
        // A deliberate move to another member, not a failure: no backoff (OVS ovsdb_cs_force_reconnect).
        this.session.resetBackoff();
        conn.close((err as StaleServerError).detail);
      }
    }
  }
}
