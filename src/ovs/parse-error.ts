/**
 * The one error type every OVS text parser throws on bad input.
 *
 * It names what was being parsed (`what`), where it went wrong (`position`, a 0-based offset
 * into `input`) and why (`reason`), so a caller can point at the exact character of a dump
 * line, trace or log record instead of guessing.
 */
export class OvsParseError extends Error {
  override readonly name = 'OvsParseError';

  constructor(
    readonly what: string,
    readonly input: string,
    readonly position: number,
    readonly reason: string,
  ) {
    super(`bad ${what} at ${position}: ${reason} in "${excerpt(input, position)}"`);
  }
}

/** Long inputs (a whole dump line) are cut around the position so messages stay readable. */
function excerpt(input: string, position: number): string {
  const max = 120;
  if (input.length <= max) return input;
  const start = Math.max(0, Math.min(position - 60, input.length - max));
  const end = Math.min(input.length, start + max);
  return `${start > 0 ? '…' : ''}${input.slice(start, end)}${end < input.length ? '…' : ''}`;
}

/** Wraps a position-carrying error with a line number, for multi-line inputs (dumps, logs). */
export interface LineError {
  /** 1-based line number in the input text. */
  readonly line: number;
  readonly text: string;
  readonly error: OvsParseError;
}
