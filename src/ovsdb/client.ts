// Typed OVSDB methods on one JSON-RPC connection. Read-only by design: this service never writes,
// so transact refuses anything but select before a byte is sent.
import { EventEmitter } from 'node:events';
import { InvalidRequestError, JsonRpcRemoteError, OvsdbWireError, RequestContext } from './errors';
import type { JsonRpcConnection, RequestOptions, StreamRows } from './jsonrpc';
import {
  DatabaseSchema,
  MonitorMethod,
  MonitorRequest,
  MonitorRequests,
  MonitorResult,
  OperationResult,
  SelectOperation,
  TableUpdates,
  TableUpdates2,
  ZERO_TXN_ID,
} from './types';

export interface OvsdbClientEvents {
  update: [monitorId: unknown, updates: TableUpdates];
  update2: [monitorId: unknown, updates: TableUpdates2];
  update3: [monitorId: unknown, lastTxnId: string, updates: TableUpdates2];
  /** Sent by a server after set_db_change_aware when a database is removed or its schema changes. */
  notification: [method: string, params: unknown];
}

/** One operation of a transaction failed; `index` is its position in the request. */
export class TransactionError extends OvsdbWireError {
  constructor(
    ctx: RequestContext,
    readonly index: number,
    readonly error: string,
    readonly details?: string,
  ) {
    super(ctx, `operation ${index} failed: ${error}${details ? ` (${details})` : ''}`);
  }
}

/**
 * What the server at the other end of one connection is known to support, so that its monitors
 * skip a method it refused. Never carry it to another connection: that may be another server (a
 * newer member, a relay), and lib/ovsdb-cs.c starts each connection at monitor_cond_since.
 */
export interface ServerFeatures {
  monitorCondSince?: boolean;
  monitorCond?: boolean;
}

function isUnknownMethod(err: unknown): boolean {
  return err instanceof JsonRpcRemoteError && err.tag === 'unknown method';
}

function stripConditions(requests: MonitorRequests): { requests: MonitorRequests; dropped: boolean } {
  let dropped = false;
  const strip = (r: MonitorRequest): MonitorRequest => {
    if (r.where && !(r.where.length === 1 && r.where[0] === true)) dropped = true;
    const { where: _where, ...rest } = r;
    return rest;
  };
  const out: MonitorRequests = {};
  for (const [table, req] of Object.entries(requests)) out[table] = Array.isArray(req) ? req.map(strip) : strip(req);
  return { requests: out, dropped };
}

/**
 * Collects the rows of a monitor reply as they arrive (the connection parses them chunk by chunk
 * while the rest of the reply is still coming), then puts them back into the reply's tables.
 * `depth` is where row values sit: {"id":…,"result":[found,txn,{TABLE:{UUID:ROW}}]} puts them at 5
 * for monitor_cond_since, {"id":…,"result":{TABLE:{UUID:ROW}}} at 4 for monitor(_cond).
 */
function rowCollector(depth: number): StreamRows & { into<T extends Record<string, unknown>>(updates: T): T } {
  const tables: Record<string, Record<string, unknown>> = {};
  return {
    depth,
    onRows(table, rows) {
      const t = tables[table];
      if (t === undefined) tables[table] = rows;
      else for (const uuid in rows) t[uuid] = rows[uuid];
    },
    into(updates) {
      for (const table in tables) (updates as Record<string, unknown>)[table] = tables[table];
      return updates;
    },
  };
}

export class OvsdbClient extends EventEmitter<OvsdbClientEvents> {
  constructor(
    readonly conn: JsonRpcConnection,
    readonly features: ServerFeatures = {},
  ) {
    super();
    conn.on('notification', (method, params) => this.onNotification(method, params));
  }

  private call(method: string, params: unknown[], options: RequestOptions = {}): Promise<unknown> {
    return this.conn.request(method, params, options);
  }

  async listDbs(options?: RequestOptions): Promise<string[]> {
    return (await this.call('list_dbs', [], options)) as string[];
  }

  async getSchema(db: string, options?: RequestOptions): Promise<DatabaseSchema> {
    return (await this.call('get_schema', [db], { ...options, db })) as DatabaseSchema;
  }

  /** Read-only transact: every operation must be a select. Throws TransactionError on a failed op. */
  async transact(db: string, ops: SelectOperation[], options?: RequestOptions): Promise<OperationResult[]> {
    const ctx = { remote: this.conn.remote, method: 'transact', db };
    ops.forEach((op, i) => {
      const name = (op as { op?: unknown }).op;
      if (name !== 'select') {
        throw new InvalidRequestError(ctx, `operation ${i} is "${String(name)}": this client is read-only and only sends "select"`);
      }
    });
    const results = (await this.call('transact', [db, ...ops], { ...options, db })) as Array<OperationResult | null>;
    results.forEach((r, i) => {
      if (r && typeof r.error === 'string') throw new TransactionError(ctx, i, r.error, r.details);
    });
    return results as OperationResult[];
  }

  /**
   * Starts a monitor with the best method the server has: monitor_cond_since, then monitor_cond,
   * then monitor, falling back on "unknown method" and remembering it in `features` (this connection's).
   * `lastTxnId` only matters for monitor_cond_since (resume after a reconnect).
   */
  async monitor(
    db: string,
    monitorId: unknown,
    requests: MonitorRequests,
    options: RequestOptions & {
      lastTxnId?: string;
      /**
       * Takes the reply's rows as they arrive instead of putting them back into `updates` (whose
       * tables are then empty): a batch of one table's row updates, and the method that answered.
       */
      onRows?: (table: string, rows: Record<string, unknown>, method: MonitorMethod) => void;
    } = {},
  ): Promise<MonitorResult> {
    const { onRows, lastTxnId = ZERO_TXN_ID, ...rest } = options;
    const opts = { ...rest, db };
    const collect = (method: MonitorMethod, depth: number) =>
      onRows ? { depth, onRows: (t: string, r: Record<string, unknown>) => onRows(t, r, method), into: <T>(u: T) => u } : rowCollector(depth);
    if (this.features.monitorCondSince !== false) {
      try {
        const rows = collect('monitor_cond_since', 5);
        const r = (await this.conn.request('monitor_cond_since', [db, monitorId, requests, lastTxnId], { ...opts, rows })) as [
          boolean,
          string,
          TableUpdates2 | null,
        ];
        this.features.monitorCondSince = true;
        return { method: 'monitor_cond_since', found: r[0], lastTxnId: r[1], updates: rows.into(r[2] ?? {}) };
      } catch (err) {
        if (!isUnknownMethod(err)) throw err;
        this.features.monitorCondSince = false;
      }
    }
    if (this.features.monitorCond !== false) {
      try {
        const rows = collect('monitor_cond', 4);
        const updates = (await this.conn.request('monitor_cond', [db, monitorId, requests], { ...opts, rows })) as TableUpdates2 | null;
        this.features.monitorCond = true;
        return { method: 'monitor_cond', updates: rows.into(updates ?? {}) };
      } catch (err) {
        if (!isUnknownMethod(err)) throw err;
        this.features.monitorCond = false;
      }
    }
    const plain = stripConditions(requests);
    const rows = collect('monitor', 4);
    const updates = (await this.conn.request('monitor', [db, monitorId, plain.requests], { ...opts, rows })) as TableUpdates | null;
    return { method: 'monitor', updates: rows.into(updates ?? {}), conditionsIgnored: plain.dropped };
  }

  /** Which method the next monitor() will use first. */
  get preferredMonitorMethod(): MonitorMethod {
    if (this.features.monitorCondSince !== false) return 'monitor_cond_since';
    return this.features.monitorCond !== false ? 'monitor_cond' : 'monitor';
  }

  /** Changes the conditions of a monitor_cond(_since) monitor; the server answers with update2/3 notifications. */
  async monitorCondChange(
    oldMonitorId: unknown,
    newMonitorId: unknown,
    requests: Record<string, MonitorRequest | MonitorRequest[]>,
    options?: RequestOptions,
  ): Promise<void> {
    await this.call('monitor_cond_change', [oldMonitorId, newMonitorId, requests], options);
  }

  async monitorCancel(monitorId: unknown, options?: RequestOptions): Promise<void> {
    await this.call('monitor_cancel', [monitorId], options);
  }

  /** Asks the server to notify (and close monitors) when a database goes away or changes schema. */
  async setDbChangeAware(options?: RequestOptions): Promise<void> {
    await this.call('set_db_change_aware', [true], options);
  }

  async echo(params: unknown[] = [], options?: RequestOptions): Promise<unknown> {
    return this.call('echo', params, options);
  }

  private onNotification(method: string, params: unknown): void {
    const p = Array.isArray(params) ? params : [];
    if (method === 'update' && p.length >= 2) this.emit('update', p[0], (p[1] ?? {}) as TableUpdates);
    else if (method === 'update2' && p.length >= 2) this.emit('update2', p[0], (p[1] ?? {}) as TableUpdates2);
    else if (method === 'update3' && p.length >= 3) this.emit('update3', p[0], String(p[1]), (p[2] ?? {}) as TableUpdates2);
    else this.emit('notification', method, params);
  }
}
