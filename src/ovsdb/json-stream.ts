// Splits a byte stream of concatenated JSON values (RFC 7047 framing: no length prefix, no
// delimiter) into one Buffer per message. It only tracks nesting depth and string/escape state;
// every structural character is ASCII and UTF-8 never uses ASCII bytes inside a multi-byte
// sequence, so a character split across chunks needs no special care.
//
// Chunks of an unfinished message are kept in a list and concatenated once when the message
// completes, so a 300 MB reply arriving in thousands of 64 KB chunks is copied once, not
// once per chunk.
//
// Row streaming (armRows): ovsdb-server builds a whole monitor reply before sending its first
// byte, then sends tens of megabytes at once. For a reply armed by its id, the members of every
// object at one depth (the rows of each table) are handed out as they complete, a chunk's worth
// at a time, so the client parses them while the rest arrives; the message itself then completes
// as a skeleton whose table objects are empty. Only the framing is known here: which id, which
// depth and what a row is are the caller's business.

import { constants } from 'node:buffer';

const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACE = 0x7d; // }
const OPEN_BRACKET = 0x5b; // [
const CLOSE_BRACKET = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

export type JsonStreamErrorKind = 'garbage' | 'too-deep' | 'too-large' | 'unbalanced' | 'truncated';

/** Bad framing. `offset` counts bytes from the start of the stream. */
export class JsonStreamError extends Error {
  constructor(
    readonly kind: JsonStreamErrorKind,
    readonly offset: number,
    message: string,
  ) {
    super(message);
    this.name = 'JsonStreamError';
  }
}

export class JsonMessageTooLargeError extends JsonStreamError {
  constructor(
    readonly limit: number,
    readonly bytesSeen: number,
    offset: number,
    message = `JSON message exceeds the limit of ${limit} bytes (${bytesSeen} bytes seen without the message ending)`,
  ) {
    super('too-large', offset, message);
    this.name = new.target.name;
  }
}

/** V8 holds at most this many characters in one string (about 512 MiB). */
export const MAX_STRING_CHARS = constants.MAX_STRING_LENGTH;

/**
 * A complete message, within maxMessageBytes, that cannot be decoded: its text would be longer
 * than one JavaScript string can be, and JSON.parse takes one string. Only a streamed reply's
 * rows (armRows) are decoded piecewise; a notification or any other reply is decoded whole.
 */
export class JsonMessageTooLongError extends JsonMessageTooLargeError {
  constructor(bytes: number, offset: number) {
    super(MAX_STRING_CHARS, bytes, offset, `JSON message of ${bytes} bytes exceeds the limit of ${MAX_STRING_CHARS} characters of one JavaScript string (V8's, whatever maxMessageBytes allows)`);
  }
}

/** UTF-8 to a string; past V8's string limit a JsonMessageTooLongError, not Node's bare ERR_STRING_TOO_LONG. */
export function decodeUtf8(bytes: Buffer, receivedBytes = 0): string {
  try {
    return bytes.toString('utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_STRING_TOO_LONG') throw new JsonMessageTooLongError(bytes.length, receivedBytes);
    throw err;
  }
}

export interface JsonSplitterOptions {
  /** Largest message accepted, in bytes. Default 1 GiB (a large southbound dump is hundreds of MB). */
  maxMessageBytes?: number;
  /** Deepest nesting accepted. OVSDB messages nest about 8 deep; default 128. */
  maxDepth?: number;
}

/**
 * Receives the complete members of one streamed object: `members` is their JSON text, members
 * separated by commas (a leading comma possible), to be wrapped in braces.
 */
export type RowsHandler = (id: number, key: string, members: Buffer) => void;

interface RowsArm {
  /** Depth of the member values streamed: 5 for monitor_cond_since's rows, 4 for monitor_cond's. */
  rowDepth: number;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 128;

function isWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function describeByte(b: number): string {
  return b >= 0x20 && b < 0x7f ? `'${String.fromCharCode(b)}'` : `0x${b.toString(16).padStart(2, '0')}`;
}

/**
 * Incremental splitter. Only objects and arrays are accepted at top level: a bare scalar has no
 * end marker without a delimiter, and neither OVSDB nor unixctl ever sends one.
 * After the first error the splitter is poisoned: framing is lost, the connection must close.
 */
export class JsonSplitter {
  private readonly maxMessageBytes: number;
  private readonly maxDepth: number;
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private depth = 0;
  private inString = false;
  private escape = false;
  private consumed = 0; // bytes of the stream before the current chunk
  private messageStart = 0; // stream offset of the current message's first byte
  private failed: JsonStreamError | null = null;
  private messageBytesBefore = 0; // bytes of the current message in earlier chunks (skeleton and rows)

  // Row streaming: replies armed by id, and the state of the one being streamed.
  private readonly armed = new Map<number, RowsArm>();
  private onRows: RowsHandler | null = null;
  private streamState: 'undecided' | 'off' | 'on' = 'off';
  private streamId = 0;
  private rowDepth = 0;
  private keyParts: Buffer[] | null = null; // the object key being read at depth rowDepth - 2
  private keyStart = -1;
  private lastKey = '';
  private inRows = false; // between the braces of an object at depth rowDepth - 1
  private rowKey = '';
  private rowParts: Buffer[] = []; // member bytes of earlier chunks not handed out yet
  private rowPartsBytes = 0;

  constructor(options: JsonSplitterOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  /**
   * Streams the reply whose first member is `"id":<id>`: the members of each object at depth
   * `rowDepth - 1` go to `onRows` (with the key that object sits under) instead of the message.
   * A reply laid out otherwise is delivered whole, as without arming. Disarmed when it completes.
   */
  armRows(id: number, rowDepth: number, onRows: RowsHandler): void {
    if (rowDepth < 3) throw new RangeError('rowDepth must be at least 3');
    this.onRows = onRows;
    this.armed.set(id, { rowDepth });
  }

  disarmRows(id: number): void {
    this.armed.delete(id);
  }

  /** Bytes held for a message that has not ended yet. */
  get pendingBytes(): number {
    return this.messageBytesBefore;
  }

  /** True between messages (nothing buffered, not inside a value). */
  get idle(): boolean {
    return this.depth === 0 && this.messageBytesBefore === 0;
  }

  /** Feeds one chunk; returns the messages it completes, in order. Throws JsonStreamError. */
  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw this.failed;
    try {
      return this.scan(chunk);
    } catch (err) {
      if (err instanceof JsonStreamError) this.failed = err;
      throw err;
    }
  }

  /** Call at end of stream: throws if a message was cut off. */
  end(): void {
    if (this.failed) throw this.failed;
    if (this.depth > 0 || this.messageBytesBefore > 0) {
      this.failed = new JsonStreamError(
        'truncated',
        this.consumed,
        `stream ended inside a JSON message (${this.messageBytesBefore} bytes received since offset ${this.messageStart})`,
      );
      throw this.failed;
    }
  }

  private scan(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    const len = chunk.length;
    const within = this.depth > 0;
    let msgStart = within ? 0 : -1; // where the current message's bytes begin in this chunk
    let skel = within && !this.inRows ? 0 : -1; // where its unsaved skeleton bytes begin (-1: none)
    let rowsFrom = this.inRows ? 0 : -1; // where its unsent row bytes begin
    let rowsEnd = -1; // just after the last member completed in this chunk
    if (this.keyParts) this.keyStart = 0;
    let i = 0;
    // indexOf results are cached: re-searching from scratch for every string would rescan a
    // chunk without backslashes once per string (quadratic on a big chunk).
    let nextQuote = -2;
    let nextBackslash = -2;

    while (i < len) {
      if (this.inString) {
        if (this.escape) {
          this.escape = false;
          i++;
          continue;
        }
        if (nextQuote !== -1 && nextQuote < i) nextQuote = chunk.indexOf(QUOTE, i);
        if (nextBackslash !== -1 && nextBackslash < i) nextBackslash = chunk.indexOf(BACKSLASH, i);
        if (nextBackslash !== -1 && (nextQuote === -1 || nextBackslash < nextQuote)) {
          i = nextBackslash + 1;
          this.escape = true;
          continue;
        }
        if (nextQuote === -1) {
          i = len;
          break;
        }
        this.inString = false;
        if (this.keyParts) this.endKey(chunk, nextQuote);
        i = nextQuote + 1;
        continue;
      }

      const b = chunk[i];
      if (this.depth === 0) {
        if (isWhitespace(b)) {
          i++;
          continue;
        }
        if (b !== OPEN_BRACE && b !== OPEN_BRACKET) {
          const what = b === CLOSE_BRACE || b === CLOSE_BRACKET ? 'unbalanced' : 'garbage';
          throw new JsonStreamError(
            what,
            this.consumed + i,
            `${what === 'unbalanced' ? 'unbalanced' : 'unexpected'} byte ${describeByte(b)} at offset ${this.consumed + i}: a JSON-RPC message must start with '{' or '['`,
          );
        }
        msgStart = skel = i;
        this.messageStart = this.consumed + i;
        this.streamState = this.armed.size > 0 ? 'undecided' : 'off';
      }

      if (b === QUOTE) {
        this.inString = true;
        if (this.streamState === 'on' && !this.inRows && this.depth === this.rowDepth - 2) {
          this.keyParts = [];
          this.keyStart = i + 1;
        }
      } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        if (++this.depth > this.maxDepth) {
          throw new JsonStreamError('too-deep', this.consumed + i, `JSON nesting deeper than ${this.maxDepth} at offset ${this.consumed + i}`);
        }
        if (this.streamState === 'undecided' && this.depth === 2) this.decide(chunk, skel, i);
        if (this.streamState === 'on' && !this.inRows && b === OPEN_BRACE && this.depth === this.rowDepth - 1) {
          // An object of rows opens: its braces stay in the skeleton, its members are streamed.
          this.savePart(chunk.subarray(skel, i + 1));
          skel = -1;
          this.inRows = true;
          this.rowKey = this.lastKey;
          rowsFrom = i + 1;
          rowsEnd = -1;
        }
      } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        --this.depth;
        if (this.inRows) {
          if (this.depth === this.rowDepth - 1) {
            rowsEnd = i + 1;
          } else if (this.depth === this.rowDepth - 2) {
            this.emitRows(chunk.subarray(rowsFrom, i));
            this.inRows = false;
            rowsFrom = -1;
            skel = i;
          }
        } else if (this.depth === 0) {
          const end = i + 1;
          const size = this.messageBytesBefore + end - msgStart;
          if (size > this.maxMessageBytes) {
            throw new JsonMessageTooLargeError(this.maxMessageBytes, size, this.consumed + i);
          }
          out.push(this.finish(chunk.subarray(skel, end)));
          msgStart = skel = -1;
        }
      }
      i++;
    }

    if (this.depth > 0 || this.inString) {
      if (skel >= 0) this.savePart(chunk.subarray(skel));
      if (rowsFrom >= 0) {
        if (rowsEnd > rowsFrom) {
          this.emitRows(chunk.subarray(rowsFrom, rowsEnd));
          rowsFrom = rowsEnd;
        }
        this.rowParts.push(chunk.subarray(rowsFrom));
        this.rowPartsBytes += len - rowsFrom;
      }
      if (this.keyParts && this.keyStart >= 0) this.keyParts.push(chunk.subarray(this.keyStart));
      this.messageBytesBefore += len - (msgStart < 0 ? 0 : msgStart);
      if (this.messageBytesBefore > this.maxMessageBytes) {
        throw new JsonMessageTooLargeError(this.maxMessageBytes, this.messageBytesBefore, this.consumed + len);
      }
    }
    this.consumed += len;
    return out;
  }

  private savePart(part: Buffer): void {
    if (part.length === 0) return;
    this.parts.push(part);
    this.partsBytes += part.length;
  }

  /** At the message's first nested value: is it an armed reply (`{"id":N,` first)? */
  private decide(chunk: Buffer, skel: number, i: number): void {
    const head = Buffer.concat([...this.parts, chunk.subarray(skel, i)]).toString('latin1', 0, 64);
    const m = /^\{\s*"id"\s*:\s*(\d+)\s*,/.exec(head);
    const arm = m ? this.armed.get(Number(m[1])) : undefined;
    if (!m || !arm) {
      this.streamState = 'off';
      return;
    }
    this.streamState = 'on';
    this.streamId = Number(m[1]);
    this.rowDepth = arm.rowDepth;
  }

  private endKey(chunk: Buffer, quote: number): void {
    const parts = this.keyParts!;
    parts.push(chunk.subarray(this.keyStart, quote));
    const raw = (parts.length === 1 ? parts[0] : Buffer.concat(parts)).toString('utf8');
    this.keyParts = null;
    this.keyStart = -1;
    try {
      this.lastKey = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
    } catch {
      this.lastKey = raw; // the whole message's JSON.parse will report it
    }
  }

  private emitRows(last: Buffer): void {
    let members = last;
    if (this.rowParts.length > 0) {
      this.rowParts.push(last);
      members = Buffer.concat(this.rowParts, this.rowPartsBytes + last.length);
      this.rowParts = [];
      this.rowPartsBytes = 0;
    }
    let k = 0;
    while (k < members.length && (isWhitespace(members[k]) || members[k] === 0x2c)) k++;
    if (k < members.length) this.onRows?.(this.streamId, this.rowKey, members.subarray(k));
  }

  private finish(last: Buffer): Buffer {
    this.messageBytesBefore = 0;
    this.keyParts = null;
    if (this.streamState === 'on') this.armed.delete(this.streamId);
    this.streamState = 'off';
    if (this.parts.length === 0) return last;
    this.parts.push(last);
    const whole = Buffer.concat(this.parts, this.partsBytes + last.length);
    this.parts = [];
    this.partsBytes = 0;
    return whole;
  }
}

/** A framed message that JSON.parse rejects; `detail` has V8's position within the message. */
export class JsonParseError extends Error {
  constructor(
    /** Bytes of the stream received when the message completed. */
    readonly receivedBytes: number,
    readonly detail: string,
  ) {
    super(`invalid JSON in a message received by stream byte ${receivedBytes}: ${detail}`);
    this.name = 'JsonParseError';
  }
}

/**
 * Decodes one framed message. JSON.parse on one string is the fastest decoder Node has.
 * Throws JsonMessageTooLongError for a message no string can hold, JsonParseError for bad JSON.
 */
export function parseMessage(message: Buffer, receivedBytes = 0): unknown {
  const text = decodeUtf8(message, receivedBytes);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new JsonParseError(receivedBytes, err instanceof Error ? err.message : String(err));
  }
}
