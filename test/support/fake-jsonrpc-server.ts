// A scriptable JSON-RPC 1.0 server on TCP (so inactivity probes apply) for what a real daemon
// will not do on demand: drop the connection mid-message, send garbage or an oversize message,
// ignore echo, answer slowly, go away and come back on the same port.
import * as net from 'node:net';
import { JsonSplitter } from '../../src/ovsdb/json-stream';

export type Message = Record<string, unknown>;

export class FakeConnection {
  readonly received: Message[] = [];
  /** Raw text of every message received, to check exactly what the client put on the wire. */
  readonly receivedRaw: string[] = [];

  constructor(readonly socket: net.Socket) {}

  send(message: Message | string | Buffer): void {
    if (this.socket.destroyed) return;
    this.socket.write(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  reply(id: unknown, result: unknown): void {
    this.send({ id, result, error: null });
  }

  replyError(id: unknown, error: unknown): void {
    this.send({ id, result: null, error });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Decides what to do with each message; return false to fall through to the default. */
export type Script = (msg: Message, conn: FakeConnection) => boolean | void;

export class FakeJsonRpcServer {
  private server: net.Server | undefined;
  readonly connections: FakeConnection[] = [];
  script: Script | undefined;
  /** Answer echo requests by default (a real ovsdb-server does). */
  answerEcho = true;
  port = 0;
  /** When set, listens on this Unix socket path instead of TCP. */
  path: string | undefined;

  static async start(script?: Script, options: { path?: string } = {}): Promise<FakeJsonRpcServer> {
    const s = new FakeJsonRpcServer();
    s.script = script;
    s.path = options.path;
    await s.listen();
    return s;
  }

  get remote(): string {
    return this.path ? `unix:${this.path}` : `tcp:127.0.0.1:${this.port}`;
  }

  get requests(): Message[] {
    return this.connections.flatMap((c) => c.received);
  }

  /** Listens again (on the same port after stop(), for restart scenarios). */
  listen(): Promise<void> {
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      if (this.path) {
        server.listen(this.path, () => resolve());
        return;
      }
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  /** Stops listening and drops every connection (a daemon that died). */
  async stop(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    const conn = new FakeConnection(socket);
    this.connections.push(conn);
    const splitter = new JsonSplitter();
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      let messages: Buffer[];
      try {
        messages = splitter.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const raw of messages) {
        const msg = JSON.parse(raw.toString('utf8')) as Message;
        conn.receivedRaw.push(raw.toString('utf8'));
        conn.received.push(msg);
        if (this.script?.(msg, conn) === true) continue;
        this.defaultAnswer(msg, conn);
      }
    });
  }

  private defaultAnswer(msg: Message, conn: FakeConnection): void {
    if (msg.id === null || msg.id === undefined || msg.method === undefined) return;
    switch (msg.method) {
      case 'echo':
        if (this.answerEcho) conn.reply(msg.id, msg.params);
        break;
      case 'list_dbs':
        conn.reply(msg.id, ['OVN_Northbound', '_Server']);
        break;
      default:
        conn.replyError(msg.id, 'unknown method');
    }
  }
}

/** The error a promise rejects with; fails if it resolves. */
export async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, got a value');
}
