// JSON-RPC 1.0 as OVS speaks it (lib/jsonrpc.c, python/ovs/jsonrpc.py) over any Duplex:
// a Unix socket, TCP or TLS. Messages carry only method/params/id or result/error/id: ovsdb-server
// rejects any other member (so never "jsonrpc":"2.0"), and a reply whose result is null is taken
// for a request, so we never answer with a null result.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  ConnectionClosedError,
  InactivityTimeoutError,
  JsonRpcRemoteError,
  OvsdbWireError,
  ProtocolError,
  RequestContext,
  RequestTimeoutError,
} from './errors';
import { decodeUtf8, JsonMessageTooLargeError, JsonSplitter, JsonSplitterOptions, JsonStreamError, parseMessage } from './json-stream';

export type JsonRpcId = number | string;

export interface JsonRpcConnectionOptions extends JsonSplitterOptions {
  /** Names the peer in every error, e.g. "tcp:127.0.0.1:6641". */
  remote: string;
  /**
   * Inactivity probe: after this long without receiving a byte, send an echo; if nothing arrives
   * within another interval, close. 0 disables (the OVS default for Unix sockets).
   */
  probeIntervalMs?: number;
  /** Default per-request timeout; 0 = none. A streamed reply (StreamRows) restarts it with each batch of rows. */
  requestTimeoutMs?: number;
}

export interface RequestOptions {
  /** Overrides the connection default; 0 = none. */
  timeoutMs?: number;
  /** Database the request is about, for error messages. */
  db?: string;
}

/**
 * Hands the reply's rows over while the reply arrives (JsonSplitter.armRows): the members of each
 * object at depth `depth - 1` of the reply, parsed, with the key of that object. The result the
 * request resolves with then has those objects empty.
 */
export interface StreamRows {
  depth: number;
  onRows(key: string, members: Record<string, unknown>): void;
}

interface Pending {
  ctx: RequestContext;
  onRows?: StreamRows['onRows'];
  resolve(result: unknown): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout;
}

type RawMessage = Record<string, unknown>;

export interface JsonRpcConnectionEvents {
  notification: [method: string, params: unknown];
  /** A request from the server other than echo; it has already been answered "unknown method". */
  request: [method: string, params: unknown];
  /** Closed for whatever reason; `reason` is undefined after a local close() without a reason. */
  close: [reason: OvsdbWireError | undefined];
}

export class JsonRpcConnection extends EventEmitter<JsonRpcConnectionEvents> {
  readonly remote: string;
  private readonly splitter: JsonSplitter;
  private readonly pending = new Map<number, Pending>();
  /** The inactivity probe this connection runs (0: none); health and tests read it. */
  readonly probeIntervalMs: number;
  private readonly requestTimeoutMs: number;
  private nextId = 1;
  private closed = false;
  private closeReason: OvsdbWireError | undefined;
  private writeBlocked = false;
  private writeQueue: string[] = [];
  private lastReceived = Date.now();
  private probeSent = false;
  private probeTimer: NodeJS.Timeout | undefined;
  /** Bytes received so far (the bench reads this). */
  bytesReceived = 0;
  messagesReceived = 0;

  constructor(
    private readonly stream: Duplex,
    options: JsonRpcConnectionOptions,
  ) {
    super();
    this.remote = options.remote;
    this.splitter = new JsonSplitter(options);
    this.probeIntervalMs = options.probeIntervalMs ?? 0;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 0;
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('drain', () => this.flush());
    stream.on('end', () => this.onEnd());
    stream.on('error', (err: Error) => this.fail(new ConnectionClosedError({ remote: this.remote }, err.message, { cause: err })));
    stream.on('close', () => this.fail(new ConnectionClosedError({ remote: this.remote }, 'socket closed')));
    if (this.probeIntervalMs > 0) this.armProbe(this.probeIntervalMs);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get pendingRequests(): number {
    return this.pending.size;
  }

  /** Sends a request and resolves with its result, or rejects with a typed error. */
  request(method: string, params: unknown[], options: RequestOptions & { rows?: StreamRows } = {}): Promise<unknown> {
    const ctx: RequestContext = { remote: this.remote, method, db: options.db };
    if (this.closed) {
      return Promise.reject(new ConnectionClosedError(ctx, this.closeReason?.message ?? 'closed'));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const entry: Pending = { ctx, resolve, reject, onRows: options.rows?.onRows };
      const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id);
          this.splitter.disarmRows(id);
          reject(new RequestTimeoutError(ctx, timeoutMs));
        }, timeoutMs);
      }
      this.pending.set(id, entry);
      if (options.rows) this.splitter.armRows(id, options.rows.depth, (rid, key, members) => this.onRows(rid, key, members));
      this.send({ method, params, id });
    });
  }

  notify(method: string, params: unknown[]): void {
    if (!this.closed) this.send({ method, params, id: null });
  }

  /** Closes the connection; pending requests fail with the reason. Idempotent. */
  close(reason?: string): void {
    this.fail(reason === undefined ? undefined : new ConnectionClosedError({ remote: this.remote }, reason), true);
  }

  private send(message: object): void {
    const text = JSON.stringify(message);
    if (this.writeBlocked) {
      this.writeQueue.push(text);
      return;
    }
    // Respect backpressure: once write() says the buffer is full, hold further messages
    // until 'drain' instead of piling them into the socket's memory.
    if (!this.stream.write(text)) this.writeBlocked = true;
  }

  private flush(): void {
    this.writeBlocked = false;
    while (this.writeQueue.length > 0 && !this.writeBlocked && !this.closed) {
      const text = this.writeQueue.shift()!;
      if (!this.stream.write(text)) this.writeBlocked = true;
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.bytesReceived += chunk.length;
    this.lastReceived = Date.now();
    this.probeSent = false;
    let messages: Buffer[];
    try {
      messages = this.splitter.push(chunk);
    } catch (err) {
      const detail = err instanceof JsonStreamError ? err.message : String(err);
      this.fail(new ProtocolError({ remote: this.remote }, detail, { cause: err }));
      return;
    }
    for (const buf of messages) {
      if (this.closed) return;
      let value: unknown;
      try {
        value = parseMessage(buf, this.bytesReceived);
      } catch (err) {
        if (err instanceof JsonMessageTooLargeError) {
          const { ctx, what } = this.whichMessage(buf);
          this.fail(new ProtocolError(ctx, `${what} cannot be decoded: ${err.message}`, { cause: err }));
        } else this.fail(new ProtocolError({ remote: this.remote }, (err as Error).message, { cause: err }));
        return;
      }
      this.messagesReceived++;
      this.dispatch(value);
    }
  }

  /**
   * Names a message that cannot be parsed from the scalar members it starts with: ovsdb-server
   * writes "id" first, and "method" before "params". A reply names its request (method, db).
   */
  private whichMessage(buf: Buffer): { ctx: RequestContext; what: string } {
    const head = buf.toString('latin1', 0, 256);
    const members = new Map<string, string>();
    const member = /\s*"(\w+)"\s*:\s*("[^"\\]*"|-?\d+|null)\s*,/y;
    member.lastIndex = head.indexOf('{') + 1;
    for (let m = member.exec(head); m; m = member.exec(head)) members.set(m[1], m[2]);
    const id = members.get('id');
    const method = members.get('method');
    const entry = id !== undefined && /^\d+$/.test(id) ? this.pending.get(Number(id)) : undefined;
    if (entry) return { ctx: entry.ctx, what: 'the reply' };
    const remote = { remote: this.remote };
    // method keeps its quotes: the "update3" notification
    if (method) return { ctx: remote, what: `the ${method} ${id === 'null' ? 'notification' : 'request'}` };
    return { ctx: remote, what: id !== undefined && id !== 'null' ? `the reply to request ${id}` : 'a message' };
  }

  /** Rows of an armed reply, parsed as they arrive; nothing here knows what a row is. */
  private onRows(id: number, key: string, members: Buffer): void {
    const entry = this.pending.get(id);
    if (!entry?.onRows || this.closed) return;
    let rows: Record<string, unknown>;
    try {
      rows = JSON.parse(`{${decodeUtf8(members, this.bytesReceived)}}`) as Record<string, unknown>;
    } catch (err) {
      if (err instanceof JsonMessageTooLargeError) {
        throw new JsonMessageTooLargeError(err.limit, err.bytesSeen, err.offset, `the "${key}" rows of the reply to ${entry.ctx.method} cannot be decoded: ${err.message}`);
      }
      // Thrown inside the splitter's push: onData turns it into a protocol failure.
      throw new JsonStreamError('garbage', this.bytesReceived, `invalid JSON in the "${key}" members of the reply to ${entry.ctx.method}: ${(err as Error).message}`);
    }
    // The reply is arriving: its timeout counts from the last rows, not from the request. A
    // southbound dump of hundreds of MB over a modest link outlasts any fixed deadline, and was
    // cut off and asked again, from the start, for good.
    entry.timer?.refresh();
    entry.onRows(key, rows);
  }

  private dispatch(value: unknown): void {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(new ProtocolError({ remote: this.remote }, 'message is not a JSON object'));
      return;
    }
    const msg = value as RawMessage;
    for (const key of Object.keys(msg)) {
      if (key !== 'method' && key !== 'params' && key !== 'result' && key !== 'error' && key !== 'id') {
        this.fail(new ProtocolError({ remote: this.remote }, `message has unexpected member "${key}"`));
        return;
      }
    }
    const id = msg.id ?? null;
    // Same classification as python/ovs/jsonrpc.py Message.from_json.
    if (msg.result != null || msg.error != null) {
      this.onReply(id, msg.result ?? null, msg.error ?? null);
      return;
    }
    if (typeof msg.method !== 'string') {
      this.fail(new ProtocolError({ remote: this.remote }, 'message is neither a request, a notification nor a reply'));
      return;
    }
    const params = msg.params ?? [];
    // A listener that cannot take what the server sent (a malformed update, say) throws here,
    // inside the socket's 'data' event, where nothing would catch it and the process would die:
    // the message is bad input, so the connection fails naming it, and the session reconnects.
    try {
      if (id === null) {
        this.emit('notification', msg.method, params);
      } else if (msg.method === 'echo') {
        this.send({ result: params, error: null, id });
      } else {
        this.send({ error: 'unknown method', id });
        this.emit('request', msg.method, params);
      }
    } catch (err) {
      const what = id === null ? 'notification' : 'request';
      this.fail(new ProtocolError({ remote: this.remote }, `cannot handle the "${msg.method}" ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
    }
  }

  private onReply(id: unknown, result: unknown, error: unknown): void {
    const entry = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!entry) return; // a reply after its request timed out: nothing is waiting for it
    this.pending.delete(id as number);
    this.splitter.disarmRows(id as number);
    if (entry.timer) clearTimeout(entry.timer);
    if (error != null) entry.reject(new JsonRpcRemoteError(entry.ctx, error));
    else entry.resolve(result);
  }

  private onEnd(): void {
    const reason = this.splitter.idle
      ? 'peer closed the connection'
      : `peer closed the connection in the middle of a message (${this.splitter.pendingBytes} bytes of it received)`;
    this.fail(new ConnectionClosedError({ remote: this.remote }, reason));
  }

  private armProbe(delayMs: number): void {
    this.probeTimer = setTimeout(() => this.onProbeTimer(), delayMs);
    this.probeTimer.unref?.();
  }

  // One timer, re-armed from the last received byte, rather than a reset on every chunk.
  private onProbeTimer(): void {
    if (this.closed) return;
    const idle = Date.now() - this.lastReceived;
    if (idle < this.probeIntervalMs) {
      this.armProbe(this.probeIntervalMs - idle);
      return;
    }
    if (this.probeSent) {
      this.fail(new InactivityTimeoutError({ remote: this.remote }, this.probeIntervalMs));
      return;
    }
    this.probeSent = true;
    this.request('echo', [], { timeoutMs: 0 }).catch(() => undefined);
    this.armProbe(this.probeIntervalMs);
  }

  private fail(reason: OvsdbWireError | undefined, local = false): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.writeQueue = [];
    for (const entry of this.pending.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      const why = reason instanceof ConnectionClosedError ? reason.reason : (reason?.detail ?? 'closed locally');
      entry.reject(new ConnectionClosedError(entry.ctx, why, { cause: reason }));
    }
    this.pending.clear();
    if (local) this.stream.end();
    this.stream.destroy();
    this.emit('close', reason);
  }
}
