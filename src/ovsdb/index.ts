// The OVSDB client, layered like node-postgres's pg-protocol (no Nest imports below this folder):
//   json-stream  pure byte-level splitter of concatenated JSON values (framing only)
//   jsonrpc      JSON-RPC 1.0 over any Duplex: ids, timeouts, echo, inactivity probe, backpressure
//   remote       unix:/tcp:/ssl: remotes and how to open them (TLS verifies the CA, not the host name)
//   session      reconnecting session over a remote list (OVS reconnect.c backoff), onConnected hook
//   client       typed read-only methods (list_dbs, get_schema, select-only transact, monitors)
//   sync         syncInitial(): connect + monitor + count, for bench/ovsdb-sync
//   replica/     in-memory tables (replica) whose rows, indexes and tombstones are kept per table
//                (replica-table), datum decoding (datum), and the follower that keeps one in sync
//                over a session (follower): replicas/ uses them
//
// May import: nothing of the service (node built-ins only); no Nest.
// Entry points: OvsdbSession and OvsdbClient (below); ReplicaFollower (replica/follower) for a replica.
//
// Typical use:
//   const session = new OvsdbSession({ remotes: 'tcp:a:6642,tcp:b:6642', onConnected: async (conn) => {
//     const client = new OvsdbClient(conn);
//     client.on('update3', (id, txn, updates) => apply(updates));
//     const r = await client.monitor('OVN_Southbound', 'sb', { Logical_Flow: { columns: ['match'] } });
//   }}).start();
export * from './errors';
export * from './json-stream';
export * from './jsonrpc';
export * from './remote';
export * from './backoff';
export * from './session';
export * from './client';
export * from './types';
export * from './sync';
