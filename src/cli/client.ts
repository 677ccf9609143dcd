// The HTTP side of the ovn-livetrace client: the public API only, with LIVETRACE_API_TOKEN as the
// bearer token. Errors carry the API's message and whether the thing asked for was not found.
import { request } from 'node:http';
import { request as requestTls } from 'node:https';

export class ClientError extends Error {
  constructor(message: string, readonly status: number | null) {
    super(message);
  }
}

export class Client {
  constructor(readonly base: string, private readonly token: string | undefined) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Accept: 'application/json', ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    let r: Response;
    try {
      r = await fetch(this.base + path, { method, headers: this.headers(body === undefined ? {} : { 'Content-Type': 'application/json' }), body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ClientError(`cannot reach ${this.base}: ${cause?.code ?? cause?.message ?? (err as Error).message} (--url or LIVETRACE_URL)`, null);
    }
    if (!r.ok) {
      let message = `${r.status} ${r.statusText}`;
      try {
        message = ((await r.json()) as { message?: string }).message ?? message;
      } catch {
        /* not the API's error shape */
      }
      if (r.status === 401) message += ' (set LIVETRACE_API_TOKEN)';
      throw new ClientError(message, r.status);
    }
    return r;
  }

  async get<T = any>(path: string): Promise<T> {
    return (await this.send('GET', path)).json() as Promise<T>;
  }

  async text(path: string): Promise<string> {
    return (await this.send('GET', path)).text();
  }

  async post<T = any>(path: string, body: unknown = {}): Promise<T> {
    return (await this.send('POST', path, body)).json() as Promise<T>;
  }

  async delete<T = any>(path: string): Promise<T> {
    return (await this.send('DELETE', path)).json() as Promise<T>;
  }

  /**
   * Follows `GET /traces/stream` (server-sent events), reconnecting after a dropped connection
   * with Last-Event-ID so that no trace is missed; resolves only on an error the API gave.
   * `seen`: the traces already printed. A plain trace id resumes the other writer slots a reorder
   * window earlier (src/traces/stream-position.ts), so some come again: each is passed on once.
   * `onGap`: the stream's word that a resume skipped traces (more than it catches up).
   */
  follow(query: string, lastId: number, onTrace: (t: any) => void, opts: { seen?: Iterable<number>; onGap?: (message: string) => void } = {}): Promise<never> {
    // The stream's position as its last event gave it (with PostgreSQL, one trace id per writer slot), sent back as is.
    let last = String(lastId);
    // Ids passed on, oldest dropped first: a trace comes again only within the resume's window.
    const seen = new Set<number>(opts.seen);
    const once = (t: { id: number }) => {
      if (seen.has(t.id)) return;
      seen.add(t.id);
      if (seen.size > SEEN_KEPT) seen.delete(seen.values().next().value!);
      onTrace(t);
    };
    return new Promise((_, reject) => {
      const connect = () => {
        // One reconnect a connection, however it ended: an end, a cut mid-response (a killed
        // service, a dropped link: no 'end', only 'aborted' and 'close'), or no connection at all.
        let again = false;
        const retry = (ms: number) => {
          if (again) return;
          again = true;
          setTimeout(connect, ms);
        };
        const url = new URL(`${this.base}/traces/stream${query}`);
        const req = (url.protocol === 'https:' ? requestTls : request)(url, { headers: this.headers({ Accept: 'text/event-stream', 'Last-Event-ID': last }) }, (res) => {
          res.on('error', () => retry(2000));
          if (res.statusCode !== 200) {
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => {
              let message = `${res.statusCode}`;
              try {
                message = JSON.parse(body).message ?? message;
              } catch {
                /* keep the status */
              }
              if ((res.statusCode ?? 500) >= 500) return retry(2000);
              again = true;
              reject(new ClientError(message, res.statusCode ?? null));
            });
            return;
          }
          res.setEncoding('utf8');
          let buf = '';
          res.on('data', (chunk: string) => {
            buf += chunk;
            let i: number;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              const ev: Record<string, string> = {};
              for (const line of block.split('\n')) {
                const m = /^(id|event|data): (.*)$/.exec(line);
                if (m) ev[m[1]] = m[2];
              }
              if (ev.id) last = ev.id;
              if (ev.event === 'trace' && ev.data) once(JSON.parse(ev.data));
              else if (ev.event === 'gap' && ev.data) opts.onGap?.(JSON.parse(ev.data).message);
            }
          });
          res.on('close', () => retry(1000));
        });
        req.on('error', () => retry(2000));
        req.end();
      };
      connect();
    });
  }
}

/** Trace ids `follow` remembers: far more than a reorder window's worth of a port's traces. */
const SEEN_KEPT = 10_000;
