// Splits a byte stream of concatenated JSON values (RFC 7047 framing: no length prefix, no
// delimiter) into one Buffer per message. It only tracks nesting depth and string/escape state;
// every structural character is ASCII and UTF-8 never uses ASCII bytes inside a multi-byte
// sequence, so a character split across chunks needs no special care.
//
// Chunks of an unfinished message are kept in a list and concatenated once when the message
// completes, so a 300 MB reply arriving in thousands of 64 KB chunks is copied once, not
// once per chunk.

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
  ) {
    super('too-large', offset, `JSON message exceeds the limit of ${limit} bytes (${bytesSeen} bytes seen without the message ending)`);
    this.name = 'JsonMessageTooLargeError';
  }
}

export interface JsonSplitterOptions {
  /** Largest message accepted, in bytes. Default 1 GiB (a large southbound dump is hundreds of MB). */
  maxMessageBytes?: number;
  /** Deepest nesting accepted. OVSDB messages nest about 8 deep; default 128. */
  maxDepth?: number;
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

  constructor(options: JsonSplitterOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  /** Bytes held for a message that has not ended yet. */
  get pendingBytes(): number {
    return this.partsBytes;
  }

  /** True between messages (nothing buffered, not inside a value). */
  get idle(): boolean {
    return this.depth === 0 && this.partsBytes === 0;
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
    if (this.depth > 0 || this.partsBytes > 0) {
      this.failed = new JsonStreamError(
        'truncated',
        this.consumed,
        `stream ended inside a JSON message (${this.partsBytes} bytes received since offset ${this.messageStart})`,
      );
      throw this.failed;
    }
  }

  private scan(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    const len = chunk.length;
    let start = this.depth > 0 ? 0 : -1; // index in chunk where the current message began
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
        start = i;
        this.messageStart = this.consumed + i;
      }

      if (b === QUOTE) {
        this.inString = true;
      } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        if (++this.depth > this.maxDepth) {
          throw new JsonStreamError('too-deep', this.consumed + i, `JSON nesting deeper than ${this.maxDepth} at offset ${this.consumed + i}`);
        }
      } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        if (--this.depth === 0) {
          const end = i + 1;
          const size = this.partsBytes + end - start;
          if (size > this.maxMessageBytes) {
            throw new JsonMessageTooLargeError(this.maxMessageBytes, size, this.consumed + i);
          }
          out.push(this.finish(chunk.subarray(start, end)));
          start = -1;
        }
      }
      i++;
    }

    if (this.depth > 0 || this.inString) {
      const tail = chunk.subarray(start < 0 ? 0 : start);
      this.partsBytes += tail.length;
      if (this.partsBytes > this.maxMessageBytes) {
        throw new JsonMessageTooLargeError(this.maxMessageBytes, this.partsBytes, this.consumed + len);
      }
      this.parts.push(tail);
    }
    this.consumed += len;
    return out;
  }

  private finish(last: Buffer): Buffer {
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

/** Decodes one framed message. JSON.parse on one string is the fastest decoder Node has. */
export function parseMessage(message: Buffer, receivedBytes = 0): unknown {
  try {
    return JSON.parse(message.toString('utf8'));
  } catch (err) {
    throw new JsonParseError(receivedBytes, err instanceof Error ? err.message : String(err));
  }
}
