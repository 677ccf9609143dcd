// The response a unit spec hands GET /traces/stream's service (trace-stream.service.ts) in place
// of Express's: what the stream wrote, read back as the traces sent and the positions (SSE ids).
import { EventEmitter } from 'node:events';

export class FakeResponse extends EventEmitter {
  out = '';
  destroyed = false;
  writableNeedDrain = false;
  status() {
    return this;
  }
  setHeader() {}
  flushHeaders() {}
  write(s: string) {
    this.out += s;
    return true;
  }
  end() {
    this.destroyed = true;
  }
  /** The traces sent, in order. */
  ids(): number[] {
    return [...this.out.matchAll(/^data: (\{"id":\d+.*)$/gm)].map((m) => (JSON.parse(m[1]) as { id: number }).id);
  }
  /** The SSE ids (the stream's position), in order. */
  positions(): string[] {
    return [...this.out.matchAll(/^id: (.*)$/gm)].map((m) => m[1]);
  }
}
