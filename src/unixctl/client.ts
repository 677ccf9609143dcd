// The ovs-appctl protocol: JSON-RPC 1.0 on a daemon's control socket, every param a string,
// replies {"result":"<text>"} or {"error":"<text>"}. A daemon reads a connection's next request
// only after replying to the previous one, so requests are queued here, one in flight.
import { ConnectError, InvalidRequestError, JsonRpcRemoteError, OvsdbWireError } from '../ovsdb/errors';
import { JsonRpcConnection } from '../ovsdb/jsonrpc';
import { connectRemote } from '../ovsdb/remote';
import { daemonName, DiscoveryEnv, parseListCommands, resolveUnixctlSocket, ResolvedSocket } from './discovery';

/** The daemon answered with an error; `text` is its own message. */
export class UnixctlError extends Error {
  constructor(
    readonly daemon: string,
    readonly command: string,
    readonly text: string,
  ) {
    super(`${daemon}: ${command} failed: ${text.trimEnd()}`);
    this.name = 'UnixctlError';
  }
}

export interface UnixctlClientOptions {
  /** A daemon name ("ovs-vswitchd", "ovn-controller") or an absolute socket path. */
  target: string;
  /** Where <name>.pid lives; default OVS_RUNDIR or OVN_RUNDIR by daemon name. */
  rundir?: string;
  env?: DiscoveryEnv;
  /** Per-request timeout; default 10 s. 0 = none. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
}

export class UnixctlClient {
  readonly daemon: string;
  private conn: JsonRpcConnection | undefined;
  private socket: ResolvedSocket | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private commands: Map<string, string> | undefined;
  private closed = false;
  /** Connections opened so far (a restart of the daemon shows as a new one). */
  connectCount = 0;

  constructor(private readonly options: UnixctlClientOptions) {
    this.daemon = daemonName(options.target);
  }

  /** The socket of the current connection, if any. */
  get currentSocket(): ResolvedSocket | undefined {
    return this.conn && !this.conn.isClosed ? this.socket : undefined;
  }

  /** Runs one command; resolves with the daemon's text, rejects with UnixctlError or a wire error. */
  call(command: string, args: readonly string[] = [], options: { timeoutMs?: number } = {}): Promise<string> {
    return this.callServed(command, args, options).then((r) => r.text);
  }

  /**
   * As call(), with the socket (so the daemon process) that answered: after a restart the current
   * socket is another process's, and a reply is that of the process it came from.
   */
  callServed(command: string, args: readonly string[] = [], options: { timeoutMs?: number } = {}): Promise<{ text: string; socket: ResolvedSocket }> {
    const bad = args.findIndex((a) => typeof a !== 'string');
    if (bad >= 0) {
      return Promise.reject(new InvalidRequestError({ remote: this.daemon, method: command }, `argument ${bad} is not a string (unixctl takes strings only)`));
    }
    const run = this.tail.then(() => this.send(command, [...args], options.timeoutMs ?? this.options.timeoutMs ?? 10_000));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Commands this daemon has, with their argument synopsis; cached per daemon process. */
  async listCommands(): Promise<Map<string, string>> {
    if (!this.commands) this.commands = parseListCommands(await this.call('list-commands'));
    return this.commands;
  }

  /** Feature detection: has('ofproto/detrace') is false on OVS 3.1. */
  async has(command: string): Promise<boolean> {
    return (await this.listCommands()).has(command);
  }

  close(): void {
    this.closed = true;
    this.conn?.close();
    this.conn = undefined;
  }

  private async connection(): Promise<JsonRpcConnection> {
    if (this.closed) throw new ConnectError({ remote: this.daemon }, 'client closed');
    if (this.conn && !this.conn.isClosed) return this.conn;
    // Re-read the pidfile every time: after a restart the daemon has a new pid, hence a new socket.
    const socket = await resolveUnixctlSocket(this.options.target, this.options.rundir, this.options.env);
    const remote = `unix:${socket.path}`;
    const stream = await connectRemote({ kind: 'unix', path: socket.path, text: remote }, { connectTimeoutMs: this.options.connectTimeoutMs });
    if (this.socket?.path !== socket.path || this.socket?.pid !== socket.pid) this.commands = undefined;
    this.socket = socket;
    this.conn = new JsonRpcConnection(stream, { remote });
    this.connectCount++;
    return this.conn;
  }

  private async send(command: string, params: string[], timeoutMs: number): Promise<{ text: string; socket: ResolvedSocket }> {
    const conn = await this.connection();
    const socket = this.socket!;
    try {
      const result = await conn.request(command, params, { timeoutMs });
      return { text: typeof result === 'string' ? result : JSON.stringify(result), socket };
    } catch (err) {
      if (err instanceof JsonRpcRemoteError) throw new UnixctlError(this.daemon, command, err.tag);
      // A timed-out command may still be running in the daemon and would hold up the next
      // request on this connection: start the next one on a fresh connection instead.
      if (err instanceof OvsdbWireError && !conn.isClosed) conn.close('request timed out');
      throw err;
    }
  }
}
