// The methods a path is served with, read from Express's own route table at request time: every
// route Nest registered, SwaggerModule's /docs included, matched the way the router matches them
// (without case, a trailing slash allowed). No list kept by hand: a route added to a controller
// is in Allow the moment it exists. What a 405's Allow and an OPTIONS answer say.
import type { Request } from 'express';

interface RouteLayer {
  route?: { methods: Record<string, boolean | undefined> };
  match(path: string): unknown;
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
  if (found.has('GET')) found.add('HEAD');
  return [...found].filter(serves).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** A method a known path does not serve: the message of its 405, naming the path and what it serves. */
export const notServedMessage = (req: Request, allow: string[]): string =>
  `method: ${req.method} is not one ${JSON.stringify(req.path.slice(0, 200))} serves (it serves ${allow.join(', ')})`;
