// The methods a path is served with, read from Express's own route table at request time: every
// route Nest registered, SwaggerModule's /docs included, matched the way the router matches them
// (without case, a trailing slash allowed), and the files of the folders express.static serves
// (the /docs page's own), said by servesFolder. No list kept by hand: a route added to a controller
// is in Allow the moment it exists. What a 405's Allow and an OPTIONS answer say.
import type { Request } from 'express';
import { statSync } from 'node:fs';
import { join } from 'node:path';

interface RouteLayer {
  route?: { methods: Record<string, boolean | undefined> };
  match(path: string): unknown;
}

/** The Express setting that lists the folders express.static serves (a middleware, not a route: not in the table). */
const STATIC_FOLDERS = 'livetrace static folders';

interface StaticFolder {
  prefix: string;
  dir: string;
}

interface Settings {
  get(name: string): unknown;
  set(name: string, value: unknown): unknown;
}

/** `dir`'s files are served under `prefix` (GET, HEAD) by express.static: their other methods are 405 too. */
export function servesFolder(app: Settings, prefix: string, dir: string): void {
  const known = (app.get(STATIC_FOLDERS) as StaticFolder[] | undefined) ?? [];
  app.set(STATIC_FOLDERS, [...known, { prefix: prefix.toLowerCase(), dir }]);
}

/**
 * Whether express.static would answer a GET of this path with a file: its mount matched without
 * case, as Express does; a file that exists; never a dot-file (serve-static ignores them) nor a
 * name that climbs out of the folder.
 */
function isStaticFile(req: Request): boolean {
  const folders = ((req.app as Partial<Settings> | undefined)?.get?.(STATIC_FOLDERS) as StaticFolder[] | undefined) ?? [];
  for (const f of folders) {
    if (!req.path.toLowerCase().startsWith(`${f.prefix}/`)) continue;
    let parts: string[];
    try {
      parts = decodeURIComponent(req.path.slice(f.prefix.length + 1)).split('/');
    } catch {
      continue;
    }
    if (parts.some((p) => p === '' || p.startsWith('.') || /[\\\0]/.test(p))) continue;
    try {
      if (statSync(join(f.dir, ...parts)).isFile()) return true;
    } catch {
      // no such file: express.static passes it on, and so its 404 stays
    }
  }
  return false;
}

/** The order HTTP's own texts list them in; any other method after these, by name. */
const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
const rank = (m: string) => (ORDER.includes(m) ? ORDER.indexOf(m) : ORDER.length);

const takes = (methods: Record<string, boolean | undefined>, m: string) => !!(methods._all || methods[m] || (m === 'head' && methods.get));

/**
 * The methods some route serves for this request's path (HEAD wherever GET is, as Express answers
 * it), those `serves` keeps; none for a path no route knows. A route that takes the request's own
 * method was tried and passed it on: a middleware mounted as a route for every method (nestjs-pino's
 * logger, on {/*splat}), which would otherwise make every path look served by every method.
 */
export function servedMethods(req: Request, serves: (method: string) => boolean = () => true): string[] {
  const stack = (req.app as unknown as { router?: { stack?: RouteLayer[] } } | undefined)?.router?.stack ?? [];
  const found = new Set<string>();
  for (const layer of stack) {
    const methods = layer.route?.methods;
    if (!methods || takes(methods, req.method.toLowerCase())) continue;
    let hit: unknown;
    try {
      hit = layer.match(req.path);
    } catch {
      continue; // a parameter that is not valid percent-encoding: this route would not have taken it either
    }
    if (!hit) continue;
    for (const [m, on] of Object.entries(methods)) if (on) found.add(m.toUpperCase());
  }
  if (!['get', 'head'].includes(req.method.toLowerCase()) && isStaticFile(req)) found.add('GET');
  if (found.has('GET')) found.add('HEAD');
  return [...found].filter(serves).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** A method a known path does not serve: the message of its 405, naming the path and what it serves. */
export const notServedMessage = (req: Request, allow: string[]): string =>
  `method: ${req.method} is not one ${JSON.stringify(req.path.slice(0, 200))} serves (it serves ${allow.join(', ')})`;
