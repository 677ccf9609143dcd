// A trace's OpenFlow steps as one compact blob on its trace row (trace.steps). A step is six
// unsigned LEB128 varints: seq, depth, OpenFlow rule id, owner reference, northbound hint id
// (0: none), flags. The owner reference is 0 for none, 2·id for a logical-flow snapshot and
// 2·id + 1 for another southbound owner (ovn_object). ~11 bytes a step: one row write per trace
// instead of ~27 step rows and their index entries (bench/api/RESULTS.md). The audits do not read
// it: they use trace_citation.

export interface PackedStep {
  seq: number;
  depth: number;
  ruleId: number;
  lflowId: number | null;
  ownerId: number | null;
  hintId: number | null;
  flags: number;
}

/** Leading byte of the format, so a later layout can tell old blobs apart. */
export const STEP_PACK_V1 = 1;

export class StepPackError extends Error {
  constructor(
    readonly offset: number,
    reason: string,
  ) {
    super(`packed steps: ${reason} at byte ${offset}`);
    this.name = 'StepPackError';
  }
}

/** Appends varints to a growing byte array (reused across traces by the caller if it likes). */
export class StepPacker {
  private buf = Buffer.allocUnsafe(512);
  private n = 0;

  reset(): this {
    this.n = 0;
    this.byte(STEP_PACK_V1);
    return this;
  }

  add(seq: number, depth: number, ruleId: number, lflowId: number | null, ownerId: number | null, hintId: number | null, flags: number): void {
    this.varint(seq);
    this.varint(depth);
    this.varint(ruleId);
    this.varint(lflowId != null ? lflowId * 2 : ownerId != null ? ownerId * 2 + 1 : 0);
    this.varint(hintId ?? 0);
    this.varint(flags);
  }

  /** A copy of the bytes written since reset(). */
  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.n));
  }

  private byte(b: number): void {
    if (this.n === this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger);
      this.buf = bigger;
    }
    this.buf[this.n++] = b;
  }

  private varint(v: number): void {
    // Ids are SQLite rowids handed out by this process: non-negative and far below 2^53.
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }
}

export function packSteps(steps: readonly PackedStep[]): Buffer {
  const p = new StepPacker().reset();
  for (const s of steps) p.add(s.seq, s.depth, s.ruleId, s.lflowId, s.ownerId, s.hintId, s.flags);
  return p.bytes();
}

export function unpackSteps(blob: Uint8Array): PackedStep[] {
  if (!blob.length || blob[0] !== STEP_PACK_V1) throw new StepPackError(0, `unknown format ${blob[0] ?? 'empty'}`);
  let i = 1;
  const varint = (): number => {
    let v = 0;
    let scale = 1;
    for (;;) {
      if (i >= blob.length) throw new StepPackError(i, 'truncated varint');
      const b = blob[i++];
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new StepPackError(i, 'varint too long');
    }
  };
  const out: PackedStep[] = [];
  while (i < blob.length) {
    const seq = varint();
    const depth = varint();
    const ruleId = varint();
    const owner = varint();
    const hint = varint();
    const flags = varint();
    out.push({
      seq,
      depth,
      ruleId,
      lflowId: owner && owner % 2 === 0 ? owner / 2 : null,
      ownerId: owner % 2 === 1 ? (owner - 1) / 2 : null,
      hintId: hint || null,
      flags,
    });
  }
  return out;
}

/** The distinct (kind, ref) citations of packed steps: kind 0 logical-flow snapshot, 1 northbound hint. */
export function citationsOf(blob: Uint8Array): Array<[kind: 0 | 1, ref: number]> {
  const out: Array<[0 | 1, number]> = [];
  const seen = new Set<number>();
  for (const s of unpackSteps(blob)) {
    // Keys: 2·id for snapshots, 2·id + 1 for hints, so the two id spaces cannot collide.
    if (s.lflowId !== null && !seen.has(s.lflowId * 2)) seen.add(s.lflowId * 2) && out.push([0, s.lflowId]);
    if (s.hintId !== null && !seen.has(s.hintId * 2 + 1)) seen.add(s.hintId * 2 + 1) && out.push([1, s.hintId]);
  }
  return out;
}
