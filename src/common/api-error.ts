// One error body everywhere: {"statusCode": 400, "error": "Bad Request", "message": "…", "field"?: "…"}.
// Messages name what was wrong (the parameter and the reason, the unknown port, …). Errors the
// framework raises before a route runs (malformed JSON, a body over the limit, a path that is not
// valid percent-encoding, an unknown route) are put in the same shape here, with their field.
// A known path asked with a method it does not serve is 405 with Allow, OPTIONS on it 204 with
// Allow: the not-found Nest raises past the last route is where both are told from a 404.
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject, Logger, Optional } from '@nestjs/common';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { LIVETRACE_CONFIG } from '../config/config.module';
import type { LivetraceConfig } from '../config/config.schema';
import { roleRefuses } from '../config/role';
import { notServedMessage, servedMethods } from './served-methods';

export interface ApiErrorBody {
  statusCode: number;
  error: string;
  message: string;
  field?: string;
}

export const reasonPhrase = (status: number): string => STATUS_CODES[status] ?? (status >= 500 ? 'Server Error' : 'Error');

export const errorBody = (status: number, message: string, field?: string): ApiErrorBody => ({
  statusCode: status,
  error: reasonPhrase(status),
  message,
  ...(field ? { field } : {}),
});

export class ApiError extends HttpException {
  constructor(status: number, message: string, field?: string) {
    super(errorBody(status, message, field), status);
  }
}

export const badRequest = (field: string, reason: string) => new ApiError(400, `${field}: ${reason}`, field);
/** 404; without a field, the filter names the request's last path parameter (the id that matched nothing). */
export const notFound = (what: string, field?: string) => new ApiError(404, what, field);

/** For middleware that answers before Nest routes (http-edge.ts). */
export function sendError(res: Response, status: number, message: string, field?: string): void {
  res.status(status).json(errorBody(status, message, field));
}

/** What a handler rejects with when its client went away mid-request (isClientGone says yes to it). */
export const clientGoneError = (): Error => Object.assign(new Error('aborted'), { code: 'ECONNRESET' });

/** The client went away before the answer: nothing to answer, nothing wrong with the service. */
export function isClientGone(err: unknown, res?: Response): boolean {
  const e = err as { code?: string; type?: string; message?: string } | null;
  if (err instanceof HttpException) return false;
  return (
    !!e &&
    (e.code === 'ECONNRESET' || e.code === 'ECONNABORTED' || e.code === 'ERR_STREAM_PREMATURE_CLOSE' || e.type === 'request.aborted' || e.message === 'aborted' || !!res?.destroyed)
  );
}

/** body-parser's error types → what to tell the client. */
const BODY_ERRORS: Record<string, (e: { message: string; limit?: number; encoding?: string }) => string> = {
  'entity.parse.failed': (e) => `body: not valid JSON: ${e.message.replace(/^[^:]*JSON[^:]*:\s*/i, '').slice(0, 200)}`,
  'entity.too.large': (e) => `body: larger than ${e.limit ?? 'the limit of'} bytes`,
  'entity.repeated.name': (e) => e.message,
  // body-parser's type for a Content-Encoding it does not inflate (a charset it does not know is charset.unsupported)
  'encoding.unsupported': (e) => `content-encoding: ${JSON.stringify(String(e.encoding ?? '').slice(0, 40))} is not one this service reads: send the body uncompressed, or gzip`,
  'charset.unsupported': () => 'content-type: unsupported charset',
  'request.size.invalid': () => 'body: shorter than its Content-Length',
  'stream.encoding.set': () => 'body: could not be read',
};

/** Nest's not-found past the last route ("Cannot PUT /x"): no route took this method and path. */
const isNoRoute = (e: HttpException): boolean => e.getStatus() === 404 && /^Cannot [A-Z]+ /.test(e.message);

/** A framework error (not thrown by our code) in the one shape, naming its field. */
function frameworkError(exception: HttpException, req: Request | undefined): ApiErrorBody {
  const status = exception.getStatus();
  const cause = (exception.cause ?? exception) as { type?: string; code?: string; message: string; limit?: number };
  const r = exception.getResponse();
  const raw = typeof r === 'string' ? r : Array.isArray((r as { message?: unknown }).message) ? (r as { message: string[] }).message.join('; ') : typeof (r as { message?: unknown }).message === 'string' ? (r as { message: string }).message : exception.message;
  if (cause.type && BODY_ERRORS[cause.type]) {
    const msg = BODY_ERRORS[cause.type](cause);
    return errorBody(status, msg, msg.split(':')[0]);
  }
  // zlib's error inflating a body that is not the encoding it names: body-parser passes it on as a bare "Bad Request".
  if (typeof cause.code === 'string' && cause.code.startsWith('Z_')) {
    const named = JSON.stringify(String(req?.headers['content-encoding'] ?? '').slice(0, 40));
    return errorBody(400, `content-encoding: the body is not valid ${named} data (${cause.message.slice(0, 100)})`, 'content-encoding');
  }
  if (status === 413) return errorBody(413, `body: too large (${raw})`, 'body');
  if (/Failed to decode param|URI malformed|URIError/i.test(raw) || cause instanceof URIError) {
    return errorBody(400, `path: not valid percent-encoding: ${JSON.stringify((req?.originalUrl ?? '').slice(0, 200))}`, 'path');
  }
  if (isNoRoute(exception)) {
    return errorBody(404, `no route ${req ? `${req.method} ${JSON.stringify(req.path.slice(0, 200))}` : raw}`, 'path');
  }
  return errorBody(status, raw);
}

/** A 4xx thrown without a field is about the resource the path names: its last parameter. */
function guessField(req: Request | undefined): string {
  const names = Object.keys((req?.params ?? {}) as Record<string, unknown>).filter((k) => k !== 'splat' && k !== '0');
  return names.length ? names[names.length - 1] : req && ['POST', 'PUT', 'PATCH'].includes(req.method) ? 'body' : 'path';
}

@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('Api');

  constructor(@Optional() @Inject(LIVETRACE_CONFIG) private readonly config?: LivetraceConfig) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const req = host.switchToHttp().getRequest<Request | undefined>();
    if (req && exception instanceof HttpException && isNoRoute(exception) && this.answerMethods(req, res)) return;
    if (isClientGone(exception, res) || (!(exception instanceof HttpException) && res.headersSent)) {
      this.log.debug(`client went away before the answer (${req?.method} ${req?.path}): ${(exception as Error)?.message}`);
      if (!res.headersSent && !res.destroyed) res.status(499).end();
      return;
    }
    let body: ApiErrorBody;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const r = exception.getResponse();
      // /health's 503 carries the health report itself (terminus): pass it through untouched.
      if (typeof r === 'object' && r && 'status' in r && 'details' in r) {
        res.status(status).json(r);
        return;
      }
      if (exception instanceof ApiError) body = r as ApiErrorBody;
      else body = frameworkError(exception, req);
      if (body.statusCode < 500 && !body.field) body = { ...body, field: guessField(req) };
    } else if (storeUnreachable(exception)) {
      // The central database (PostgreSQL) is away: a retryable condition, not a bug.
      this.log.warn(`the store is unreachable (${req?.method} ${req?.path}): ${(exception as Error).message}`);
      body = errorBody(503, `the central database is unreachable, retry later: ${(exception as Error).message}`);
    } else if (storeFull(exception)) {
      // Not a bug either: the write was not made, and the operator has a disk to free (as /health says).
      this.log.warn(`the store's disk is full (${req?.method} ${req?.path}): ${(exception as Error).message}`);
      body = errorBody(507, `the disk that holds the store is full, nothing was written: free space and retry (${(exception as Error).message}, SQLITE_FULL)`);
    } else {
      this.log.error(exception instanceof Error ? exception.stack : String(exception));
      body = errorBody(500, 'internal error (logged)');
    }
    res.status(body.statusCode).json({ ...body, message: scrubPaths(body.message) });
  }

  /**
   * The path is one some route serves, with other methods (those this role answers): OPTIONS is
   * answered 204, any other method 405, both with Allow. False for a path no route knows (its 404).
   */
  private answerMethods(req: Request, res: Response): boolean {
    const role = this.config?.LIVETRACE_ROLE ?? 'all';
    const allow = servedMethods(req, (m) => !roleRefuses(role, m, req.originalUrl));
    if (!allow.length) return false;
    res.setHeader('Allow', allow.join(', '));
    if (req.method === 'OPTIONS') res.status(204).end();
    else res.status(405).json(errorBody(405, notServedMessage(req, allow), 'method'));
    return true;
  }
}

/**
 * A connection error from pg (refused, reset, timed out, the server shutting down: SQLSTATE class
 * 08 and 57P0x), or a read given up because this process stops (ESHUTDOWN, pg-client.ts withClient:
 * a retry elsewhere or after the restart answers), never a query's own error.
 */
export function storeUnreachable(e: unknown): boolean {
  // Not `instanceof Error`: net's errors come from Node's own realm, which is not always ours (jest).
  if (typeof e !== 'object' || e === null || typeof (e as { message?: unknown }).message !== 'string') return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (/^08/.test(code) || /^57P0[1-3]$/.test(code) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'ESPOOLBEHIND', 'ESHUTDOWN'].includes(code))) return true;
  return /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test((e as Error).message);
}

/** SQLite refused a write for want of disk space (better-sqlite3's SqliteError code). */
function storeFull(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'SQLITE_FULL' && typeof (e as { message?: unknown }).message === 'string';
}

/**
 * Daemon sockets, pidfiles and database files named in a message (a connect error's text) become
 * their kind: where they live is for /health with the token, not for every client.
 */
export function scrubPaths(message: string): string {
  return message.replace(/(?:unix:|punix:)?(?:\/[\w.@+-]+)+\.(ctl|sock|pid|sqlite|db)\b/g, (_, ext: string) => `<${ext === 'ctl' || ext === 'sock' ? 'socket' : ext === 'pid' ? 'pidfile' : 'database file'}>`);
}

/**
 * 503 for a request that needs ovs-vswitchd while its control socket does not answer. The reason
 * is a kind, never the socket's path (paths and pids are for /health with the token).
 */
export function vswitchdUnavailable(err?: unknown): ApiError {
  const e = err as { code?: string; message?: string } | undefined;
  const why =
    e?.code === 'ENOENT' ? 'no control socket' : e?.code === 'ECONNREFUSED' ? 'connection refused' : /time/i.test(e?.message ?? '') ? 'no answer in time' : 'its control socket does not answer';
  return new ApiError(503, `ovs-vswitchd is not reachable now (${why}): retry when it is back (GET /health)`);
}
