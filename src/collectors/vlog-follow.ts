// Following ovs-vswitchd's log: a file tail that survives rotation, and a UDP syslog listener.
// No parsing here: lines and datagrams go to VlogParser (src/ovs/vlog.ts), one parser per
// stream, since a record's continuation lines must not be mixed with another file's.
//
// File rotation, both kinds logrotate does:
// - rename (create): the path now names a new inode. The old file is read to its end, and kept
//   open because vswitchd writes to it until `vlog/reopen`: until it has grown no more for a grace
//   period; the new one is read from its start (its first lines were written after the rename).
// - copytruncate: same inode, size below our offset. Read from 0. Lines written between our last
//   read and the truncation are gone; that is counted, never silent.
// Polling (not fs.watch): it works the same on every filesystem and sees renames reliably.
import { createSocket, Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

export interface FollowerEvents {
  /**
   * Complete lines (without newline) of stream `stream`, whose lines are counted from byte `fromByte`
   * of the file: 0, read from its start (line numbers are the file's own), or where the follower began.
   */
  lines: [lines: string[], stream: number, fromByte: number];
  /** A stream will produce no more lines (its file was rotated away or truncated): flush its parser. */
  end: [stream: number, fromByte: number];
  rotated: [kind: 'renamed' | 'truncated'];
  error: [err: Error];
}

interface Stream {
  id: number;
  fh: FileHandle;
  ino: number;
  offset: number;
  partial: string;
  /** A character whose UTF-8 bytes a read cut in two waits here for the rest (decoded alone, each half was U+FFFD). */
  decoder: StringDecoder;
  /** The last bytes read, to notice a truncation the file has already grown back past. */
  tail: Buffer;
  /** Set once rotated away: drained until this time, then closed. */
  drainUntil?: number;
  /** The byte its first line starts at: 0, or the file's size when the follower started (its lines before were never read). */
  fromByte: number;
}

const CHUNK = 1 << 20;
const TAIL = 64;

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

export class FileFollower extends EventEmitter<FollowerEvents> {
  private current: Stream | null = null;
  private draining: Stream[] = [];
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private busy: Promise<void> | null = null;

  constructor(
    readonly path: string,
    private readonly opts: { pollMs?: number; drainMs?: number } = {},
  ) {
    super();
  }

  /** Starts at the end of the file as it is now (or at the start of a file that appears later). */
  async start(): Promise<void> {
    this.current = await this.open(true);
    this.schedule();
  }

  /** Bytes read so far of the current file (tests wait for it to reach the file's size). */
  get offset(): number {
    return this.current?.offset ?? 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.busy;
    await this.poll().catch(() => undefined);
    for (const s of [...this.draining, ...(this.current ? [this.current] : [])]) await this.finish(s);
    this.draining = [];
    this.current = null;
  }

  /** One poll now (also what the timer runs). */
  poll(): Promise<void> {
    if (!this.busy) this.busy = this.pollOnce().finally(() => (this.busy = null));
    return this.busy;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll()
        .catch((err: Error) => this.emit('error', err))
        .finally(() => this.schedule());
    }, this.opts.pollMs ?? 200);
    this.timer.unref();
  }

  private async open(atEnd: boolean): Promise<Stream | null> {
    let fh: FileHandle;
    try {
      fh = await fs.open(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const st = await fh.stat();
    const offset = atEnd ? st.size : 0;
    const s: Stream = { id: this.nextId++, fh, ino: st.ino, offset, fromByte: offset, partial: '', decoder: new StringDecoder('utf8'), tail: Buffer.alloc(0) };
    if (atEnd && st.size > 0) s.tail = await readAt(fh, Math.max(0, st.size - TAIL), Math.min(TAIL, st.size));
    return s;
  }

  private async pollOnce(): Promise<void> {
    const now = Date.now();
    for (const s of [...this.draining]) {
      const was = s.offset;
      await this.readNew(s);
      // Still written: vswitchd has not reopened its log yet (a rename without postrotate's vlog/reopen,
      // or a slow one). Closed at the drain time, what it wrote after was never read.
      if (s.offset !== was) s.drainUntil = now + (this.opts.drainMs ?? 2000);
      else if (now >= s.drainUntil!) {
        this.draining = this.draining.filter((d) => d !== s);
        await this.finish(s);
      }
    }
    let st: { ino: number; size: number } | null = null;
    try {
      st = await fs.stat(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const cur = this.current;
    if (!cur) {
      if (st) this.current = await this.open(false);
      if (this.current) await this.readNew(this.current);
      return;
    }
    if (st && st.ino !== cur.ino) {
      await this.readNew(cur);
      cur.drainUntil = now + (this.opts.drainMs ?? 2000);
      this.draining.push(cur);
      this.emit('rotated', 'renamed');
      this.current = await this.open(false);
      if (this.current) await this.readNew(this.current);
      return;
    }
    await this.readNew(cur);
  }

  private async readNew(s: Stream): Promise<void> {
    const { size } = await s.fh.stat();
    if (size < s.offset || (s.tail.length > 0 && !(await readAt(s.fh, s.offset - s.tail.length, s.tail.length)).equals(s.tail))) {
      // copytruncate (maybe already written past our offset again): start over; what was written
      // after our last read and before the truncation is lost. A new stream from line 1: what was
      // read before is ended (its parser flushed) and the lines from here on are the file's own.
      this.emit('end', s.id, s.fromByte);
      s.id = this.nextId++;
      s.offset = 0;
      s.fromByte = 0;
      s.tail = Buffer.alloc(0);
      s.partial = '';
      s.decoder = new StringDecoder('utf8');
      this.emit('rotated', 'truncated');
    }
    while (s.offset < size) {
      const buf = Buffer.alloc(Math.min(CHUNK, size - s.offset));
      const { bytesRead } = await s.fh.read(buf, 0, buf.length, s.offset);
      if (bytesRead === 0) break;
      s.offset += bytesRead;
      const got = buf.subarray(0, bytesRead);
      s.tail = Buffer.from(got.length >= TAIL ? got.subarray(got.length - TAIL) : Buffer.concat([s.tail, got]).subarray(-TAIL));
      const text = s.partial + s.decoder.write(got);
      const cut = text.lastIndexOf('\n');
      if (cut < 0) {
        s.partial = text;
        continue;
      }
      s.partial = text.slice(cut + 1);
      this.emit('lines', text.slice(0, cut).split('\n'), s.id, s.fromByte);
    }
  }

  private async finish(s: Stream): Promise<void> {
    await this.readNew(s).catch(() => undefined);
    // The writer is done with this file: an unterminated last line is still a line.
    s.partial += s.decoder.end();
    if (s.partial) this.emit('lines', [s.partial], s.id, s.fromByte);
    s.partial = '';
    this.emit('end', s.id, s.fromByte);
    await s.fh.close().catch(() => undefined);
  }
}

/** `HOST:PORT` → a bound UDP socket handing each datagram to `onDatagram`. */
export async function listenSyslog(hostPort: string, onDatagram: (text: string, from: string) => void): Promise<Socket> {
  const at = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(hostPort.slice(at + 1));
  const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  sock.on('message', (msg, rinfo) => onDatagram(msg.toString('utf8'), `${rinfo.address}:${rinfo.port}`));
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  return sock;
}
