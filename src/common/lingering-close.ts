// Closing a connection whose request body is still coming (an ingest body cut at a bound,
// ingest/ingest-body.ts). Node ends a `Connection: close` answer with socket.destroySoon(): a FIN
// after the answer, then a destroy as soon as the answer is written. With the body's unread bytes
// still arriving, that destroy is a reset: a producer still sending (curl with a big file) gets
// EPIPE, and across a network a reset can cost it the answer itself (a lost segment is never sent
// again; some stacks drop what they had received). So, as a web server's lingering close, the
// connection stays open for reading a little while after the answer, what comes is dropped, and
// it closes when the producer closes its side or the time is up.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** A closing connection → the request whose answer closes it (any later one on it is no request). */
const closing = new WeakMap<Socket, IncomingMessage>();

/** How long a closing connection's unread bytes are still read (and dropped) after its answer. */
const LINGER_MS = 2000;

/**
 * The answer to `req` (being made) closes its connection (`Connection: close`), lingering: FIN,
 * then read and drop for at most LINGER_MS, then close.
 */
export function closeWithAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Connection', 'close');
  const socket = req.socket;
  closing.set(socket, req);
  socket.destroySoon = () => {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
}

/**
 * Whether a request came on a lingering connection after the one that closes it. Its bytes
 * followed a body that was not read as it came, on a connection its producer was told is closed:
 * it is no request to act on.
 */
export const afterLingering = (req: IncomingMessage): boolean => {
  const owner = closing.get(req.socket);
  return owner !== undefined && owner !== req;
};

/** The connection goes on after all (an Expect request whose 100 was sent): closed as Node closes any. */
export function keepConnection(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket;
  if (closing.get(socket) !== req) return;
  res.removeHeader('Connection');
  closing.delete(socket);
  delete (socket as Partial<Socket>).destroySoon;
}
