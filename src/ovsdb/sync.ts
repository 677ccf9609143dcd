// One-shot "connect, monitor, count": the initial-dump path the bench measures (bench/ovsdb-sync).
import { OvsdbClient } from './client';
import { JsonRpcConnection } from './jsonrpc';
import { connectRemote, ConnectOptions, parseRemotes } from './remote';
import type { MonitorRequests, TableUpdates, TableUpdates2 } from './types';

export interface SyncInitialResult {
  /** Rows in the initial monitor reply, all tables. */
  rows: number;
  rowsByTable: Record<string, number>;
  /** Bytes received on the connection (the reply dominates). */
  bytes: number;
  method: string;
}

/**
 * Connects to the first remote of `remote`, monitors `tables` (table → columns, or null for all
 * columns) of `db` with the best monitor method the server has, and counts the initial rows.
 */
export async function syncInitial(
  remote: string,
  db: string,
  tables: Record<string, string[] | null>,
  options: ConnectOptions & { maxMessageBytes?: number } = {},
): Promise<SyncInitialResult> {
  const target = parseRemotes(remote)[0];
  const stream = await connectRemote(target, options);
  const conn = new JsonRpcConnection(stream, { remote: target.text, maxMessageBytes: options.maxMessageBytes });
  try {
    const client = new OvsdbClient(conn);
    const requests: MonitorRequests = {};
    for (const [table, columns] of Object.entries(tables)) {
      requests[table] = columns ? { columns } : {};
    }
    const result = await client.monitor(db, 'sync', requests);
    const updates: TableUpdates | TableUpdates2 = result.updates;
    const rowsByTable: Record<string, number> = {};
    let rows = 0;
    for (const [table, byUuid] of Object.entries(updates)) {
      const n = Object.keys(byUuid).length;
      rowsByTable[table] = n;
      rows += n;
    }
    return { rows, rowsByTable, bytes: conn.bytesReceived, method: result.method };
  } finally {
    conn.close();
  }
}
