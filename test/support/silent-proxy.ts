// A TCP proxy in front of the test's PostgreSQL that can stop forwarding without closing anything:
// a network partition that ate the answers, a frozen host. A real daemon cannot be made to do this
// on demand (a stopped server closes its sockets), so this is the one fake the PostgreSQL specs use
// (ship-blackhole, api-silent, central-retention-silent).
import { connect, createServer, Server, Socket } from 'node:net';

export interface SilentProxy {
  /** The URL given, through the proxy. */
  url: string;
  /** Forwards nothing more: open connections stay open and silent, new ones connect and hang. */
  freeze(): void;
  /**
   * As freeze, and an end that gives its connection up is not heard by the other either (the server
   * keeps its session, as across a real partition, until its own timeouts end it), nor answered (a
   * graceful close waits for good, until close()).
   */
  partition(): void;
  /** New connections work again; the frozen ones never will (the server has long forgotten them). */
  heal(): void;
  /**
   * What the server sends on connections made from now on is held until it closes them, then sent
   * in one write: a client whose event loop was busy meanwhile (a writer's chunk) reads it all at
   * once, as one chunk. The same bytes, only read together; `false` ends it for new connections.
   */
  readLate(on: boolean): void;
  /** Ends every open connection, both ends (a reset on the path), and goes on accepting new ones. */
  reset(): void;
  /** Ends every connection (the server then sees its frozen ones close) and the listener. */
  close(): Promise<void>;
}

/** A proxy to the server of `url` (a postgres://…:port/… URL) on a loopback port of its own. */
export async function silentProxy(url: string): Promise<SilentProxy> {
  const port = Number(new URL(url).port);
  const pairs: Array<{ a: Socket; b: Socket; frozen: boolean }> = [];
  let frozen = false;
  let parted = false;
  let late = false;
  const srv: Server = createServer((a) => {
    const b = connect(port, '127.0.0.1');
    const pair = { a, b, frozen: false };
    const held: Buffer[] | undefined = late ? [] : undefined;
    pairs.push(pair);
    a.on('error', () => undefined);
    b.on('error', () => undefined);
    a.on('data', (d) => void (!pair.frozen && !frozen && b.write(d)));
    b.on('data', (d) => void (held ? held.push(d) : !pair.frozen && !frozen && a.write(d)));
    a.on('close', () => void (!parted && b.destroy()));
    b.on('close', () => void (held ? a.end(Buffer.concat(held)) : !parted && a.destroy()));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const own = (srv.address() as { port: number }).port;
  return {
    url: url.replace(/:(\d+)\//, `:${own}/`),
    freeze() {
      frozen = true;
      for (const p of pairs) p.frozen = true;
    },
    partition() {
      parted = true;
      frozen = true;
      // A side that ends its connection hears no end back either (Node's socket would answer a FIN
      // with its own at once: pg's end() then resolved, where across a real partition it waits for good).
      for (const p of pairs) (p.frozen = true, (p.a.allowHalfOpen = true), (p.b.allowHalfOpen = true));
    },
    heal() {
      frozen = false;
    },
    readLate(on) {
      late = on;
    },
    reset() {
      for (const p of pairs.splice(0)) (p.a.destroy(), p.b.destroy());
    },
    async close() {
      for (const p of pairs) (p.a.destroy(), p.b.destroy());
      await new Promise((r) => srv.close(r));
    },
  };
}
