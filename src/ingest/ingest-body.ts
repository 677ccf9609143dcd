// Reading one ingest body under its slot (ingest-gate.ts), bounded in size and in time. The slot is
// what every other producer waits for: a body that stops coming (its producer hung with the
// connection up, a partition), trickles, or goes on past LIVETRACE_INGEST_MAX_BYTES must give it
// back when the bound is met, not when Node's requestTimeout (300 s) or the producer ends it; two
// such bodies held ingest shut for every producer. Nothing of a cut body is stored (bodies are
// stored only once read whole), so cutting loses nothing accepted. Imports: common/ only.
import type { Request, Response } from 'express';
import { ApiError, clientGoneError } from '../common/api-error';
import { continueIfHeld } from '../common/expect-continue';
import { closeWithAnswer } from '../common/lingering-close';

export interface BodyBounds {
  maxBytes: number;
  /** No byte for this long: cut (LIVETRACE_INGEST_BODY_STALL_SECONDS). */
  stallSeconds: number;
  /** The whole body within this long of its slot (LIVETRACE_INGEST_BODY_SECONDS). */
  wholeSeconds: number;
}

export type CutBound = 'size' | 'stall' | 'time';

export const tooLarge = (maxBytes: number) =>
  new ApiError(413, `body over LIVETRACE_INGEST_MAX_BYTES (${maxBytes} bytes): send fewer lines per request`, 'body');

/**
 * The raw body. Rejects with the 413 or 408 to answer when a bound is met (`onCut` told which),
 * or with the socket's error when the producer goes away; either way nothing is held after.
 */
export function readBoundedBody(req: Request, res: Response, bounds: BodyBounds, onCut: (bound: CutBound) => void): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(stall);
      clearTimeout(whole);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const cut = (bound: CutBound, err: ApiError) => {
      onCut(bound);
      chunks.length = 0;
      linger(req, res);
      settle(err);
    };
    const nothingStored = 'the request is closed and nothing of it was stored; send it again whole';
    const stalled = () =>
      cut('stall', new ApiError(408, `no byte of the body for ${bounds.stallSeconds} s (LIVETRACE_INGEST_BODY_STALL_SECONDS=${bounds.stallSeconds}) after ${size} bytes: ${nothingStored}`, 'body'));
    const stall = setTimeout(stalled, bounds.stallSeconds * 1000);
    const whole = setTimeout(
      () => cut('time', new ApiError(408, `the body did not all come in ${bounds.wholeSeconds} s (LIVETRACE_INGEST_BODY_SECONDS=${bounds.wholeSeconds}; ${size} bytes came): ${nothingStored}`, 'body')),
      bounds.wholeSeconds * 1000,
    );
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > bounds.maxBytes) return cut('size', tooLarge(bounds.maxBytes));
      chunks.push(chunk);
      stall.refresh();
    };
    const onEnd = () => settle(null);
    const onGone = (e?: Error) => settle(e ?? clientGoneError());
    req.on('data', onData);
    continueIfHeld(req, res);
    req.once('end', onEnd);
    req.once('error', onGone);
    req.once('close', onGone);
  });
}

/**
 * The answer to a cut body goes out before the producer has sent all of it: the connection is
 * closed after it with a lingering close (common/lingering-close.ts), the rest read and dropped, so
 * the producer gets its answer rather than a reset. It can carry nothing more: its remaining bytes
 * belong to the cut body.
 */
function linger(req: Request, res: Response): void {
  req.pause();
  closeWithAnswer(req, res);
  res.once('finish', () => req.resume());
}
