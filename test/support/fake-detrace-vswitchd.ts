import { existsSync, readdirSync, readFileSync, unlinkSync } from 'fs';
import { createServer, Server, Socket } from 'net';
import { join } from 'path';

/**
 * A stand-in for an ovs-vswitchd ≥ 3.4 (which has `ofproto/detrace`) for tests of the tracer: no
 * daemon here has detrace. It speaks unixctl (JSON-RPC 1.0, concatenated JSON values, one request
 * at a time per connection) on a Unix socket and answers from the documented samples in
 * test/fixtures/documented/detrace. `Cache was not found` is answered for the first
 * `cacheMissesBeforeReady` requests of each ufid, as a real daemon does right after install.
 */

export const DETRACE_FIXTURES = join(__dirname, '..', 'fixtures', 'documented', 'detrace');

export interface FakeDetraceOptions {
  socketPath: string;
  /** 'flat-3.4' (3.4 layout) or 'by-bridge' (later layout). */
  layout?: 'flat-3.4' | 'by-bridge';
  cacheMissesBeforeReady?: number;
  /** Extra commands listed by list-commands (the real daemon lists ~150). */
  extraCommands?: string[];
}

export interface FakeDetraceVswitchd {
  readonly socketPath: string;
  /** Requests received, in order, as [method, params]. */
  readonly requests: Array<[string, string[]]>;
  close(): Promise<void>;
}

export async function startFakeDetraceVswitchd(options: FakeDetraceOptions): Promise<FakeDetraceVswitchd> {
  const layout = options.layout ?? 'flat-3.4';
  const misses = options.cacheMissesBeforeReady ?? 0;
  const replies = loadReplies(layout);
  const seen = new Map<string, number>();
  const requests: Array<[string, string[]]> = [];
  const sockets = new Set<Socket>();

  const answer = (method: string, params: string[]): { result: string | null; error: string | null } => {
    if (method === 'list-commands') {
      const commands = ['list-commands', 'ofproto/detrace', ...(options.extraCommands ?? [])];
      return { result: `The available commands are:\n${commands.map((c) => `  ${c}`).join('\n')}\n`, error: null };
    }
    if (method !== 'ofproto/detrace') return { result: null, error: `"${method}" is not a valid command` };
    const m = /^ufid:([0-9a-f-]{36})$/.exec(params[0] ?? '');
    if (!m || params.length > 2 || (params[1] !== undefined && !/^pmd=\d+$/.test(params[1]))) {
      return { result: null, error: 'Invalid UFID' };
    }
    const count = (seen.get(m[1]) ?? 0) + 1;
    seen.set(m[1], count);
    const reply = replies.get(m[1]);
    if (reply === undefined) return { result: null, error: 'ukey not found' };
    if (count <= misses) return { result: `Cache was not found for ufid:${m[1]}\n`, error: null };
    return { result: reply, error: null };
  };

  if (existsSync(options.socketPath)) unlinkSync(options.socketPath);
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const splitter = new JsonSplitter();
    socket.on('data', (chunk) => {
      for (const text of splitter.push(chunk.toString('utf8'))) {
        let msg: { method?: unknown; params?: unknown; id?: unknown };
        try {
          msg = JSON.parse(text);
        } catch {
          socket.destroy();
          return;
        }
        const method = typeof msg.method === 'string' ? msg.method : '';
        const params = Array.isArray(msg.params) ? msg.params.map(String) : [];
        requests.push([method, params]);
        socket.write(JSON.stringify({ ...answer(method, params), id: msg.id ?? null }));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.socketPath, () => resolve());
  });
  return {
    socketPath: options.socketPath,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function loadReplies(layout: string): Map<string, string> {
  const dir = join(DETRACE_FIXTURES, layout);
  const out = new Map<string, string>();
  for (const file of readdirSync(dir)) {
    const m = /^([0-9a-f-]{36})\.txt$/.exec(file);
    if (m) out.set(m[1], readFileSync(join(dir, file), 'utf8'));
  }
  return out;
}

/** Splits concatenated JSON values by brace depth, outside strings (local to this fake). */
class JsonSplitter {
  private buffer = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private scanned = 0;

  push(text: string): string[] {
    this.buffer += text;
    const out: string[] = [];
    let start = 0;
    for (let i = this.scanned; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
      } else if (c === '"') this.inString = true;
      else if (c === '{' || c === '[') this.depth += 1;
      else if (c === '}' || c === ']') {
        this.depth -= 1;
        if (this.depth === 0) {
          out.push(this.buffer.slice(start, i + 1).trim());
          start = i + 1;
        }
      }
    }
    this.buffer = this.buffer.slice(start);
    this.scanned = this.buffer.length;
    return out;
  }
}
