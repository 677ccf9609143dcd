// The page's only way to the service: same-origin fetch with the API's bearer token. Browser
// navigation cannot send that header, so the page asks for the token once (only when the API
// answers 401) and keeps it in sessionStorage, which dies with the tab and is never sent by the
// browser on its own (unlike a cookie: no cross-site request can carry it, http-edge.ts needs no change).
const KEY = 'livetrace.token';

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly field?: string) {
    super(message);
  }
}

export const token = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (t: string) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

/** Listeners told when the API wants a token (the shell shows the token form). */
const wanted = new Set<() => void>();
export const onTokenWanted = (f: () => void) => (wanted.add(f), () => wanted.delete(f));

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = token.get();
  return { Accept: 'application/json', ...(t ? { Authorization: `Bearer ${t}` } : {}), ...extra };
}

async function fail(r: Response): Promise<never> {
  let message = `${r.status} ${r.statusText}`;
  let field: string | undefined;
  try {
    const body = await r.json();
    message = body.message ?? message;
    field = body.field;
  } catch {
    /* not the API's error shape */
  }
  if (r.status === 401) for (const f of wanted) f();
  throw new ApiError(r.status, message, field);
}

/**
 * The server's clock less this tab's (ms), from the last answer's Date header: trace times are the
 * server's, so a window back from now counts from its clock (a tab an hour off showed the wrong hour).
 * The header has whole seconds: now reads up to a second early, a window a second wider.
 */
let serverAhead = 0;
function heard(r: Response): void {
  const d = Date.parse(r.headers.get('date') ?? '');
  if (!Number.isNaN(d)) serverAhead = d - Date.now();
}

/** Now (epoch ms) by the server's clock, as far as its answers told it. */
export const serverNow = (): number => Date.now() + serverAhead;

export async function get<T = any>(path: string, signal?: AbortSignal): Promise<T> {
  const r = await fetch(path, { headers: headers(), signal });
  heard(r);
  if (!r.ok) return fail(r);
  return r.headers.get('content-type')?.startsWith('application/json') ? r.json() : ((await r.text()) as T);
}

export async function post<T = any>(path: string, body: unknown = {}): Promise<T> {
  const r = await fetch(path, { method: 'POST', headers: headers({ 'Content-Type': 'application/json' }), body: JSON.stringify(body) });
  heard(r);
  if (!r.ok) return fail(r);
  return r.json();
}

export interface StreamHandlers {
  onTrace(t: any): void;
  onState?(s: 'open' | 'retrying' | 'closed', detail?: string): void;
  /** Traces were skipped (a resume after a long gap): the message says which. */
  onGap?(message: string): void;
}

/**
 * `GET /traces/stream` read with fetch (EventSource cannot send the Authorization header): parses
 * the events, and on a dropped connection reconnects with Last-Event-ID so that nothing is missed.
 * Returns the function that stops it.
 */
export function stream(query: string, lastId: number, h: StreamHandlers): () => void {
  const ctl = new AbortController();
  // The stream's position as its last event gave it (with PostgreSQL, one trace id per writer slot), sent back as is.
  let last = String(lastId);
  let stopped = false;
  const run = async (): Promise<void> => {
    while (!stopped) {
      try {
        const r = await fetch(`/traces/stream${query}`, { headers: headers({ Accept: 'text/event-stream', 'Last-Event-ID': last }), signal: ctl.signal });
        if (!r.ok || !r.body) await fail(r);
        h.onState?.('open');
        const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let event = 'message';
            let data = '';
            let id: string | undefined;
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
              else if (line.startsWith('id: ')) id = line.slice(4);
            }
            if (id) last = id;
            if (event === 'trace') h.onTrace(JSON.parse(data));
            else if (event === 'gap') h.onGap?.(JSON.parse(data).message);
          }
        }
      } catch (err) {
        if (stopped) return;
        if (err instanceof ApiError && err.status < 500) {
          h.onState?.('closed', err.message);
          return;
        }
      }
      if (stopped) return;
      h.onState?.('retrying');
      await new Promise((r) => setTimeout(r, 2000));
    }
  };
  void run();
  return () => {
    stopped = true;
    ctl.abort();
  };
}
