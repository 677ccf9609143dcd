// A self-reconnecting JSON-RPC session over a list of remotes, after OVS's jsonrpc_session
// (lib/jsonrpc.c, python/ovs/jsonrpc.py Session) and reconnect.c: remotes shuffled once, tried
// round-robin, reconnect delay from Backoff. The user's onConnected hook runs on every new
// connection before the session is declared up; that is where monitors are (re-)issued.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { Backoff, shuffle } from './backoff';
import { ConnectionClosedError, OvsdbWireError } from './errors';
import { JsonRpcConnection } from './jsonrpc';
import { connectRemote, ConnectOptions, defaultProbeIntervalMs, parseRemotes, Remote } from './remote';

export interface SessionOptions extends ConnectOptions {
  remotes: string | readonly string[];
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /**
   * Inactivity probe of tcp:/ssl: connections, default 5 s; 0 disables. Unix sockets are never
   * probed, whatever this says: OVN sets a configured interval only on remotes that need probes
   * (set_idl_probe_interval, stream_or_pstream_needs_probes).
   */
  probeIntervalMs?: number;
  requestTimeoutMs?: number;
  maxMessageBytes?: number;
  maxDepth?: number;
  /** Runs on each new connection before 'connected'; a rejection drops that connection. */
  onConnected?: (conn: JsonRpcConnection, remote: Remote) => Promise<void> | void;
  /** Injectable for tests. */
  random?: () => number;
  connect?: (remote: Remote, options: ConnectOptions) => Promise<Duplex>;
}

export interface SessionEvents {
  connecting: [remote: string];
  connected: [remote: string, conn: JsonRpcConnection];
  disconnected: [remote: string, reason: string];
  /** A failed attempt or a failed onConnected hook; the session keeps retrying. */
  error: [err: Error];
  /** The next attempt is scheduled after delayMs. */
  backoff: [delayMs: number];
}

function describeReason(err: Error | undefined): string {
  if (err instanceof ConnectionClosedError) return err.reason;
  if (err instanceof OvsdbWireError) return err.detail;
  return err?.message ?? 'closed';
}

type State = 'idle' | 'connecting' | 'up' | 'backoff' | 'closed';

export class OvsdbSession extends EventEmitter<SessionEvents> {
  readonly remotes: Remote[];
  private readonly backoff: Backoff;
  private readonly options: SessionOptions;
  private state: State = 'idle';
  private nextRemote = 0;
  private timer: NodeJS.Timeout | undefined;
  private conn: JsonRpcConnection | undefined;
  private upSince = 0;
  private waiters: Array<{ resolve: (c: JsonRpcConnection) => void; reject: (e: Error) => void }> = [];
  /** Number of connections that reached 'connected' (tests and health read it). */
  connectCount = 0;

  constructor(options: SessionOptions) {
    super();
    this.options = options;
    this.remotes = shuffle(parseRemotes(options.remotes), options.random);
    this.backoff = new Backoff({ minMs: options.backoffMinMs, maxMs: options.backoffMaxMs, freeTries: this.remotes.length });
  }

  /** The current connection, if the session is up. */
  get connection(): JsonRpcConnection | undefined {
    return this.state === 'up' ? this.conn : undefined;
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  start(): this {
    if (this.state === 'idle') this.attempt();
    return this;
  }

  /** Resolves with the connection once the session is up (immediately if it is). */
  waitUp(): Promise<JsonRpcConnection> {
    if (this.state === 'up' && this.conn) return Promise.resolve(this.conn);
    if (this.state === 'closed') return Promise.reject(new ConnectionClosedError({ remote: this.describeRemotes() }, 'session closed'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * Gives every remote a try without delay again, before a deliberate reconnect (the member we are
   * on is no longer suitable): OVS jsonrpc_session_reset_backoff, one more try for the connection
   * still up, which its own close consumes.
   */
  resetBackoff(): void {
    this.backoff.reset(this.remotes.length + (this.state === 'up' ? 1 : 0));
  }

  /** Stops reconnecting and closes the connection; leaves no timer behind. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const conn = this.conn;
    this.conn = undefined;
    conn?.close();
    const err = new ConnectionClosedError({ remote: this.describeRemotes() }, 'session closed');
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private describeRemotes(): string {
    return this.remotes.map((r) => r.text).join(',');
  }

  private attempt(): void {
    if (this.state === 'closed') return;
    this.timer = undefined;
    const remote = this.remotes[this.nextRemote++ % this.remotes.length];
    this.state = 'connecting';
    this.emit('connecting', remote.text);
    const connect = this.options.connect ?? connectRemote;
    connect(remote, this.options).then(
      (stream) => this.onStream(remote, stream),
      (err: Error) => this.onAttemptFailed(remote, err, false),
    );
  }

  private async onStream(remote: Remote, stream: Duplex): Promise<void> {
    if (this.state === 'closed') {
      stream.destroy();
      return;
    }
    const conn = new JsonRpcConnection(stream, {
      remote: remote.text,
      probeIntervalMs: remote.kind === 'unix' ? 0 : (this.options.probeIntervalMs ?? defaultProbeIntervalMs(remote)),
      requestTimeoutMs: this.options.requestTimeoutMs,
      maxMessageBytes: this.options.maxMessageBytes,
      maxDepth: this.options.maxDepth,
    });
    this.conn = conn;
    const connectedAt = Date.now();
    let closedDuringHook: OvsdbWireError | undefined;
    let hookRunning = true;
    conn.once('close', (reason) => {
      if (hookRunning) closedDuringHook = reason ?? new ConnectionClosedError({ remote: remote.text }, 'closed');
      else this.onConnectionClosed(remote, conn, reason);
    });
    try {
      await this.options.onConnected?.(conn, remote);
    } catch (err) {
      hookRunning = false;
      if (conn === this.conn) this.conn = undefined;
      conn.close();
      this.onAttemptFailed(remote, err as Error, true, Date.now() - connectedAt);
      return;
    }
    hookRunning = false;
    if ((this.state as State) === 'closed') {
      conn.close();
      return;
    }
    if (closedDuringHook || conn.isClosed) {
      this.conn = undefined;
      this.onAttemptFailed(remote, closedDuringHook ?? new ConnectionClosedError({ remote: remote.text }, 'closed'), true, Date.now() - connectedAt);
      return;
    }
    this.state = 'up';
    this.upSince = Date.now();
    this.connectCount++;
    this.emit('connected', remote.text, conn);
    for (const w of this.waiters.splice(0)) w.resolve(conn);
  }

  private onConnectionClosed(remote: Remote, conn: JsonRpcConnection, reason: OvsdbWireError | undefined): void {
    if (this.state === 'closed' || conn !== this.conn) return;
    this.conn = undefined;
    this.emit('disconnected', remote.text, describeReason(reason));
    const upForMs = Date.now() - this.upSince;
    // Every remote gets a try without delay again only after a connection that held: giving them
    // back on each connect let a server that accepts and then drops us (at once, or after each
    // full dump) be redialled with no delay at all, round and round the list, for good. OVS gives
    // them back only on a deliberate reconnect (jsonrpc_session_reset_backoff).
    if (upForMs >= this.backoff.maxMs) this.backoff.reset(this.remotes.length);
    this.scheduleRetry({ connected: true, upForMs });
  }

  private onAttemptFailed(remote: Remote, err: Error, connected: boolean, upForMs = 0): void {
    if (this.state === 'closed') return;
    // 'error' without a listener would throw from EventEmitter: the session keeps retrying anyway.
    if (this.listenerCount('error') > 0) this.emit('error', err);
    if (connected) this.emit('disconnected', remote.text, describeReason(err));
    this.scheduleRetry({ connected: false, upForMs });
  }

  private scheduleRetry(outcome: { connected: boolean; upForMs?: number }): void {
    const delay = this.backoff.next(outcome);
    this.state = 'backoff';
    this.emit('backoff', delay);
    this.timer = setTimeout(() => this.attempt(), delay);
  }
}
