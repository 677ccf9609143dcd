// The request log: pino-http's options for the one line a request writes when it ends.
import { stdSerializers } from 'pino';
import type { Options } from 'pino-http';
import { isClientGone } from './api-error';

/**
 * pino-http gives every request a child logger bound to the request, and pino serializes a
 * child's bindings when it is made: the request with its headers, redacted, as JSON, on every
 * request, even at a level that writes nothing (LIVETRACE_LOG_LEVEL=warn or error, /health and
 * /metrics, which are not logged). So the child is bound to the request's id alone (`reqId`), and
 * the request goes into its completion line (and its error line), serialized only when written.
 * What a line logged during a request says is its id, which the completion line repeats.
 */
export function requestLogOptions(level: string): Options {
  return {
    level,
    // Health probes and scrapes every few seconds would drown the log.
    autoLogging: { ignore: (req) => ['/health', '/metrics'].includes(req.url ?? '') },
    customAttributeKeys: { req: 'reqId' },
    // pino-http would wrap `reqId`'s serializer in the request serializer: run at once, for nothing.
    wrapSerializers: false,
    serializers: { reqId: (req: { id: unknown }) => req.id, req: stdSerializers.req, res: stdSerializers.res, err: stdSerializers.err },
    customSuccessObject: (req, _res, line: object) => ({ req, ...line }),
    customErrorObject: (req, _res, _err, line: object) => ({ req, ...line }),
    // Credentials never reach a log line (the token is checked in src/common/http-edge.ts).
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["proxy-authorization"]', 'res.headers["set-cookie"]'], censor: '<redacted>' },
    // A client that hangs up is not a server error: one info line, no stack.
    customLogLevel: (_req, res, err) => ((err && !isClientGone(err)) || res.statusCode >= 500 ? 'error' : 'info'),
  };
}
