// The response a unit spec hands GET /traces/stream's service (trace-stream.service.ts) in place
// of Express's: what the stream wrote, read back as the traces sent and the positions (SSE ids).
import { EventEmitter } from 'node:events';

export class FakeResponse extends EventEmitter {
  out = '';
  destroyed = false;
  writableEnded = false;
  writableNeedDrain = false;
  status() {
    return this;
  }
  setHeader() {}
  flushHeaders() {}
  /** As Node's: a write after end() is an 'error' event (uncaught without a listener: the process ends). */
  write(s: string) {
    if (this.writableEnded) {
      this.emit('error', Object.assign(new Error('write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END' }));
      return false;
    }
    this.out += s;
    return true;
  }
  /** As Node's: ended, its 'close' later (when the client has read what was buffered: close()). */
  end() {
    this.writableEnded = true;
  }
  /** The connection gone. */
  close() {
    this.destroyed = true;
    this.emit('close');
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
