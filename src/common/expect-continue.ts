// `Expect: 100-continue` on the ingest routes. Node answers 100 Continue as soon as such a request's
// headers arrive, so a producer (curl does this for bodies over 1 MB) uploads its whole body even when
// the answer is already known to be a refusal without it: 413 by Content-Length, 415, 503 from the
// gate's line. For the routes that read their body under the gate (ingest-body.ts), the 100 is held
// until the body is really wanted; a request answered before that never got its 100, so its
// producer sends no body, and its connection closes with the answer, lingering (common/lingering-close.ts:
// the body it might still send cannot be told from a next request). Every other route gets its 100 at once, as before.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeWithAnswer, keepConnection } from './lingering-close';

const deferred = new WeakSet<IncomingMessage>();

/**
 * The routes whose body is read only once a slot is theirs, matched as Express routes them: without
 * case, and on the path of an absolute request-target (`POST http://host/ingest/events`) too.
 * `POST /INGEST/EVENTS` is the ingest handler, and got its 100 at once.
 */
const DEFERRED_ROUTES = /^(?:[a-z][a-z0-9+.-]*:\/\/[^/?#]*)?\/ingest\/(?:events|retis)\/?(?:[?#]|$)/i;

/** For http.Server's 'checkContinue': hold the 100 of an ingest body, send the others' now. */
export function checkContinue(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'POST' && DEFERRED_ROUTES.test(req.url ?? '')) {
    deferred.add(req);
    // A producer may send its body anyway (curl does after a second): closed as a cut body is,
    // with a lingering close, so that a refusal reaches it rather than a reset.
    closeWithAnswer(req, res);
  } else {
    res.writeContinue();
  }
}

/** The body is wanted now: its held 100 goes out (once), and the connection may be kept. */
export function continueIfHeld(req: IncomingMessage, res: ServerResponse): void {
  if (!deferred.delete(req) || res.headersSent) return;
  keepConnection(req, res);
  res.writeContinue();
}
