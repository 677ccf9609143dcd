// Typed errors of the OVSDB/unixctl wire layer. Every one names the remote it happened on, and
// the method and database when a request was involved, so a log line alone says what failed.

export interface RequestContext {
  remote: string;
  method?: string;
  db?: string;
}

function where(ctx: RequestContext): string {
  const parts: string[] = [];
  if (ctx.method) parts.push(ctx.method);
  if (ctx.db) parts.push(`db ${ctx.db}`);
  return parts.length ? `${parts.join(' on ')} @ ${ctx.remote}` : ctx.remote;
}

export class OvsdbWireError extends Error {
  readonly remote: string;
  readonly method?: string;
  readonly db?: string;
  /** The message without the "method on db @ remote: " prefix. */
  readonly detail: string;

  constructor(ctx: RequestContext, message: string, options?: { cause?: unknown }) {
    super(`${where(ctx)}: ${message}`, options);
    this.name = new.target.name;
    this.detail = message;
    this.remote = ctx.remote;
    this.method = ctx.method;
    this.db = ctx.db;
  }
}

/** The server answered with an error member (OVSDB: {"error": "...", "details": "..."}; unixctl: a string). */
export class JsonRpcRemoteError extends OvsdbWireError {
  constructor(
    ctx: RequestContext,
    readonly error: unknown,
  ) {
    super(ctx, `server error: ${describeRemoteError(error)}`);
  }

  /** The short error tag (OVSDB "unknown method", "syntax error", …) or the unixctl text. */
  get tag(): string {
    if (typeof this.error === 'string') return this.error;
    if (this.error && typeof this.error === 'object' && typeof (this.error as { error?: unknown }).error === 'string') {
      return (this.error as { error: string }).error;
    }
    return JSON.stringify(this.error);
  }
}

export function describeRemoteError(error: unknown): string {
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object') {
    const e = error as { error?: unknown; details?: unknown };
    if (typeof e.error === 'string') return typeof e.details === 'string' ? `${e.error} (${e.details})` : e.error;
  }
  return JSON.stringify(error);
}

export class RequestTimeoutError extends OvsdbWireError {
  constructor(
    ctx: RequestContext,
    readonly timeoutMs: number,
  ) {
    super(ctx, `no reply within ${timeoutMs} ms`);
  }
}

/** The connection closed (or was closed) while a request was pending, or before it was sent. */
export class ConnectionClosedError extends OvsdbWireError {
  constructor(
    ctx: RequestContext,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(ctx, `connection closed: ${reason}`, options);
  }
}

/** The peer broke framing or sent something that is not a JSON-RPC 1.0 message. */
export class ProtocolError extends OvsdbWireError {
  constructor(ctx: RequestContext, message: string, options?: { cause?: unknown }) {
    super(ctx, `protocol error: ${message}`, options);
  }
}

/** Nothing received for two probe intervals, the second one after an echo probe was sent. */
export class InactivityTimeoutError extends OvsdbWireError {
  constructor(
    ctx: RequestContext,
    readonly probeIntervalMs: number,
  ) {
    super(ctx, `no data received for ${probeIntervalMs * 2} ms (echo probe after ${probeIntervalMs} ms unanswered)`);
  }
}

/** Refused client-side before anything is sent (e.g. a write operation in transact). */
export class InvalidRequestError extends OvsdbWireError {}

export class ConnectError extends OvsdbWireError {
  constructor(ctx: RequestContext, message: string, options?: { cause?: unknown }) {
    super(ctx, `cannot connect: ${message}`, options);
  }
}
