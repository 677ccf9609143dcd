// The HTTP side of a stop (SIGTERM, app.close()). Nest's forceCloseConnections destroyed every
// connection when the server closed, after the stop's hooks: a request being answered then (a read
// waiting on a slow PostgreSQL, an audit) lost its connection mid-answer, and the server kept
// accepting new ones meanwhile. Now the first thing a stop does (Nest's prepareClose, before any
// module's hook, so a read's store is still there) is to stop accepting, close the idle keep-alive
// connections, end the server-sent-event streams (GET /traces/stream: they have no end of their own;
// a client resumes elsewhere by Last-Event-ID), and let the requests in flight finish, for at most
// DRAIN_MS. Then the stop goes on: its hooks (a read still waiting on PostgreSQL is given up there,
// answered 503), and forceCloseConnections destroys what is left (test/postgres/shutdown-drain.spec.ts).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { checkContinue } from './expect-continue';
import { afterLingering } from './lingering-close';

/**
 * How long a stop lets the requests in flight finish before it goes on. As the shipper's last flush
 * (storage/ship-stop.ts STOP_FLUSH_MS), which comes after: a stop with a request in flight across a
 * partition takes both, far under systemd's 90 s stop timeout.
 */
export const DRAIN_MS = 5_000;
/** How often the drain looks at what is in flight (a stream whose start was awaiting its first read is ended once it started). */
const LOOK_MS = 50;

const isEventStream = (res: ServerResponse): boolean => res.headersSent && /^text\/event-stream/i.test(String(res.getHeader('Content-Type') ?? ''));

export class DrainingExpressAdapter extends ExpressAdapter {
  /** Responses not yet ended (their 'close': finished, or the connection gone). */
  private readonly inFlight = new Set<ServerResponse>();
  private draining = false;
  private readonly drainListeners: Array<() => void> = [];

  /** Told first when a drain begins, before it waits for what is in flight (the ingest gate's line). */
  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  override initHttpServer(options: NestApplicationOptions): void {
    super.initHttpServer(options);
    const server = this.getHttpServer() as Server;
    // Node's parser reads on through a lingering close (lingering-close.ts): the bytes after a cut
    // body would be a next request, run (an ingest stored) on a connection whose producer was told
    // it is closed and is never answered. The connection is dropped instead.
    const app = this.getInstance<(req: IncomingMessage, res: ServerResponse) => void>();
    if (server.listeners('request').includes(app)) {
      server.off('request', app);
      server.on('request', (req: IncomingMessage, res: ServerResponse) => (afterLingering(req) ? req.socket.destroy() : app(req, res)));
    }
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      this.inFlight.add(res);
      res.on('close', () => this.inFlight.delete(res));
      // A request on a connection kept alive, during the drain: its connection ends with its answer.
      if (this.draining && !res.headersSent) res.setHeader('Connection', 'close');
    });
    // With a 'checkContinue' listener Node no longer sends 100 Continue itself nor emits 'request'.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      checkContinue(req, res);
      server.emit('request', req, res);
    });
  }

  /** Called by Nest's app.close() before any module's hook (prepareClose); awaited there. */
  override async beforeClose(): Promise<void> {
    super.beforeClose();
    if (this.draining) return;
    this.draining = true;
    for (const listener of this.drainListeners) listener();
    const server = this.getHttpServer() as Server | undefined;
    if (!server) return;
    // No new connection (Node's close() also closes the idle ones); Nest's own close, later, ends the rest.
    if (server.listening) server.close();
    server.closeIdleConnections();
    for (const res of this.inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    const deadline = Date.now() + DRAIN_MS;
    for (;;) {
      for (const res of this.inFlight) if (isEventStream(res)) res.end();
      // Answered: their connections (Connection: close) end with them; one that went idle otherwise is closed.
      server.closeIdleConnections();
      if (![...this.inFlight].some((res) => !isEventStream(res)) || Date.now() >= deadline) return;
      await new Promise((r) => setTimeout(r, LOOK_MS));
    }
  }
}
