// A reader of `GET /traces/stream`'s server-sent events, as fetch gives them: one parser for the
// specs that watch a stream (the shared three-chassis checks, the PostgreSQL stream spec).

export interface SseTrace<T> {
  /** The event's `id:` line: the stream's position (a trace id, or one id per writer slot). */
  id: string;
  trace: T;
}

/**
 * The `event: trace` events of a stream as they come (`events`, and their data alone in `items`,
 * both filled live), its comment lines, and `done` once it ends (abort the fetch to end it).
 */
export function readSse<T>(res: Response): { events: Array<SseTrace<T>>; items: T[]; comments: string[]; done: Promise<void> } {
  const events: Array<SseTrace<T>> = [];
  const items: T[] = [];
  const comments: string[] = [];
  const done = (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          for (const c of block.matchAll(/^: (.*)$/gm)) comments.push(c[1]);
          const data = /^data: (.*)$/m.exec(block);
          if (data && /^event: trace$/m.test(block)) {
            const trace = JSON.parse(data[1]) as T;
            events.push({ id: /^id: (.*)$/m.exec(block)?.[1] ?? '', trace });
            items.push(trace);
          }
        }
      }
    } catch {
      // Aborted at the end of the check.
    }
  })();
  return { events, items, comments, done };
}
