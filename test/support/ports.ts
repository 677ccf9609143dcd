// A TCP port for a service a test spawns: the kernel's choice of a free one, not a random guess that
// another test's service (or PostgreSQL cluster) may hold already.
import { createServer } from 'node:net';

/** A loopback port nobody listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * A port for a service whose address must be known before anything can be awaited (or a run of
 * `span` ports from it): below Linux's ephemeral range (32768–60999), so no client socket of this
 * run (a PostgreSQL pool's, a fetch's) can hold it already. A guess in 20000–40000 once collided
 * with one (EADDRINUSE in CI).
 */
export const portBelowEphemeral = (span = 1): number => 20000 + Math.floor(Math.random() * (12000 - span));

/**
 * `count` distinct ports below the ephemeral range that nobody listens on now, for daemons that must
 * be told their ports before they start (ovsdb-server's remotes, a raft cluster). Below the range, no
 * client socket and no `listen(0)` of another test can take one between this check and the daemon's
 * bind; a concurrent guess of another test still can, so callers check that their daemon holds them.
 */
export async function portsBelowEphemeral(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const guess = portBelowEphemeral();
    if (ports.includes(guess) || !(await canListen(guess))) continue;
    ports.push(guess);
  }
  return ports;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
