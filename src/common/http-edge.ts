// What every request meets before any route, /docs and its assets included (Nest guards never
// see the routes SwaggerModule mounts on express, which is how /docs escaped the token). The API
// listens on loopback by default, where any web page the operator opens can reach it: so the Host
// header must be one of ours (DNS rebinding), a state-changing request from a foreign Origin is
// refused, and so is anything but a navigation from a page on another site (Sec-Fetch-Site), and
// bodies must be JSON (NDJSON for ingest), types a page cannot send without a CORS preflight that
// this service does not grant unless LIVETRACE_CORS_ORIGINS says so.
import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { LivetraceConfig } from '../config/config.schema';
import { TokenBucket } from './token-bucket';
import { sendError } from './api-error';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export const NDJSON_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/json-lines'];

/**
 * Routes that make ovs-vswitchd or ovn-trace work for one request: bounded in flight and in rate.
 * Matched without case, as Express routes them: `POST /TRACES` is `POST /traces`, and went past
 * both bounds.
 */
const ON_DEMAND = [/^\/traces\/?$/i, /^\/datapath-flows\/[^/]+\/trace\/?$/i, /^\/traces\/[^/]+\/cross-check\/?$/i];

const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];

/**
 * The /ui page's static files (src/ui): no data in them, and a browser's navigation cannot send a
 * bearer header. The page then reads the API with the token like any client (web/api.ts).
 */
const isUiFile = (path: string) => path === '/ui' || path.startsWith('/ui/');

/** Host header names this service answers to (lower case; an entry without port matches any port). */
export function allowedHosts(config: LivetraceConfig): string[] | '*' {
  const list = config.LIVETRACE_ALLOWED_HOSTS;
  if (list.includes('*')) return '*';
  if (list.length) return list;
  const own = config.LIVETRACE_HOST.toLowerCase();
  const bracketed = own.includes(':') && !own.startsWith('[') ? `[${own}]` : own;
  return ['0.0.0.0', '[::]'].includes(bracketed) ? LOOPBACK : [...new Set([...LOOPBACK, bracketed])];
}

export function hostAllowed(host: string | undefined, allowed: string[] | '*'): boolean {
  if (allowed === '*') return true;
  if (!host) return false;
  const h = host.toLowerCase();
  const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d+$/, '');
  return allowed.some((a) => a === h || a === name);
}

export function tokenMatches(header: string | undefined, token: Buffer): boolean {
  const m = /^Bearer (\S+)$/.exec(header ?? '');
  const given = m ? Buffer.from(m[1]) : null;
  return !!given && given.length === token.length && timingSafeEqual(given, token);
}

const hasBody = (req: Request) => Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
const mediaType = (req: Request) => (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();

export function httpEdge(config: LivetraceConfig) {
  const hosts = allowedHosts(config);
  const token = config.LIVETRACE_API_TOKEN ? Buffer.from(config.LIVETRACE_API_TOKEN) : null;
  const origins = new Set(config.LIVETRACE_CORS_ORIGINS);
  const bucket = new TokenBucket(config.LIVETRACE_ONDEMAND_RATE);
  let inFlight = 0;

  return (req: Request, res: Response, next: NextFunction): void => {
    if (!hostAllowed(req.headers.host, hosts)) {
      return sendError(res, 421, `Host ${JSON.stringify((req.headers.host ?? '').slice(0, 100))} is not one this service answers to (LIVETRACE_ALLOWED_HOSTS)`, 'host');
    }
    const path = req.path;
    const origin = req.headers.origin?.toLowerCase();
    // A browser's preflight never carries credentials (Fetch): refused 401 it got no grant, and a
    // page of a listed origin could never send its token. It changes nothing and reads nothing.
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined && origin !== undefined && origins.has(origin);
    if (token && path !== '/health' && !isUiFile(path) && !preflight && !tokenMatches(req.headers.authorization, token)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      const given = req.headers.authorization !== undefined;
      return sendError(res, 401, given ? 'invalid bearer token' : 'this API requires "Authorization: Bearer <token>" (LIVETRACE_API_TOKEN is set)', 'authorization');
    }
    // A page on another site cannot read what it fetches here (no CORS grant), but its request
    // still runs: without this, one page's 32 no-cors fetches held every trace stream open and the
    // operator's own page got 503. A top-level navigation (a link to /ui/… or /traces/7) still
    // comes in; a frame is a navigation too (Sec-Fetch-Dest: iframe) and is refused like a fetch.
    // "same-site" is another origin as well: browsers ignore the port, so any app on localhost:other.
    const site = req.headers['sec-fetch-site'];
    const topLevel = req.headers['sec-fetch-mode'] === 'navigate' && (req.headers['sec-fetch-dest'] ?? 'document') === 'document';
    if ((site === 'cross-site' || site === 'same-site') && !topLevel && !(origin !== undefined && origins.has(origin))) {
      return sendError(res, 403, `${req.method} from a page of another origin refused (Sec-Fetch-Site: ${site}; Sec-Fetch-Dest: ${JSON.stringify(String(req.headers['sec-fetch-dest'] ?? 'not sent').slice(0, 40))}; Origin ${JSON.stringify((origin ?? 'not sent').slice(0, 100))}): only a top-level navigation or an origin in LIVETRACE_CORS_ORIGINS`, 'origin');
    }
    if (!STATE_CHANGING.has(req.method)) return next();
    const sameOrigin = origin !== undefined && (origin === `http://${req.headers.host}` || origin === `https://${req.headers.host}`);
    if (origin !== undefined && origin !== 'null' ? !sameOrigin && !origins.has(origin) : req.headers['sec-fetch-site'] === 'cross-site' || origin === 'null') {
      return sendError(res, 403, `cross-origin ${req.method} from ${JSON.stringify((origin ?? 'another site').slice(0, 100))} refused (LIVETRACE_CORS_ORIGINS)`, 'origin');
    }
    if (hasBody(req)) {
      const type = mediaType(req);
      const wanted = path.toLowerCase().startsWith('/ingest/') ? NDJSON_TYPES : ['application/json'];
      if (!wanted.includes(type)) {
        req.resume();
        return sendError(res, 415, `Content-Type must be ${wanted.join(' or ')} (got ${JSON.stringify(type.slice(0, 100) || 'none')})`, 'content-type');
      }
    }
    if (req.method === 'POST' && ON_DEMAND.some((re) => re.test(path))) {
      if (inFlight >= config.LIVETRACE_ONDEMAND_MAX_IN_FLIGHT) {
        res.setHeader('Retry-After', '1');
        return sendError(res, 429, `${inFlight} on-demand traces or cross-checks already in flight (LIVETRACE_ONDEMAND_MAX_IN_FLIGHT=${config.LIVETRACE_ONDEMAND_MAX_IN_FLIGHT}): retry later`, 'path');
      }
      const wait = bucket.take();
      if (wait > 0) {
        res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
        return sendError(res, 429, `more than ${config.LIVETRACE_ONDEMAND_RATE} on-demand traces or cross-checks a second (LIVETRACE_ONDEMAND_RATE): retry in ${wait} ms`, 'path');
      }
      inFlight++;
      res.once('close', () => inFlight--);
    }
    next();
  };
}
