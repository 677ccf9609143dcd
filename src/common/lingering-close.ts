// Closing a connection whose request body is still coming (an ingest body cut at a bound,
// ingest/ingest-body.ts). Node ends a `Connection: close` answer with socket.destroySoon(): a FIN
// after the answer, then a destroy as soon as the answer is written. With the body's unread bytes
// still arriving, that destroy is a reset: a producer still sending (curl with a big file) gets
// EPIPE, and across a network a reset can cost it the answer itself (a lost segment is never sent
// again; some stacks drop what they had received). So, as a web server's lingering close, the
// connection stays open for reading a little while after the answer, what comes is dropped, and
// it closes when the producer closes its side or the time is up.
import type { Socket } from 'node:net';

const closing = new WeakSet<Socket>();

/** After the answer now being made: FIN, then read and drop for at most `ms`, then close. */
export function lingerAfterAnswer(socket: Socket, ms: number): void {
  closing.add(socket);
  socket.destroySoon = () => {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), ms);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
}

/**
 * Whether a request came on a lingering connection. Its bytes followed a body that was not read
 * as it came, on a connection its producer was told is closed: it is no request to act on.
 */
export const isLingering = (socket: Socket): boolean => closing.has(socket);
