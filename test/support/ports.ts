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
