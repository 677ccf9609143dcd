// The packed step blob (trace.steps): every step survives the round trip, citations are the
// distinct snapshots and hints the steps name, and a damaged blob is a typed error, never a hang
// or a wrong answer read past its end.
import fc from 'fast-check';
import { citationsOf, packSteps, PackedStep, StepPackError, unpackSteps } from '../../../src/traces/step-pack';

const id = fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 2 ** 40 }));
const step: fc.Arbitrary<Omit<PackedStep, 'seq'>> = fc
  .record({
    depth: fc.integer({ min: 0, max: 300 }),
    ruleId: id,
    owner: fc.oneof(fc.constant(null), fc.record({ lflow: fc.boolean(), id })),
    hintId: fc.option(id, { nil: null }),
    flags: fc.integer({ min: 0, max: 3 }),
  })
  .map(({ owner, ...s }) => ({ ...s, lflowId: owner?.lflow ? owner.id : null, ownerId: owner && !owner.lflow ? owner.id : null }));
const steps = fc.array(step, { maxLength: 60 }).map((xs) => xs.map((s, seq) => ({ seq, ...s })));

describe('packed steps', () => {
  it('round-trip every field', () => {
    fc.assert(fc.property(steps, (xs) => expect(unpackSteps(packSteps(xs))).toEqual(xs)));
  });

  it('stay small: 11 bytes a step with rule, snapshot and hint ids in the tens of thousands', () => {
    const xs = Array.from({ length: 27 }, (_, seq) => ({ seq, depth: 1, ruleId: 45_000, lflowId: 22_000, ownerId: null, hintId: 1_500, flags: 0 }));
    expect(packSteps(xs).length).toBe(1 + 27 * 11);
  });

  it('cite each snapshot and hint once, snapshots and hints apart even with equal ids', () => {
    fc.assert(
      fc.property(steps, (xs) => {
        const expected = new Set([...xs.filter((s) => s.lflowId !== null).map((s) => `0:${s.lflowId}`), ...xs.filter((s) => s.hintId !== null).map((s) => `1:${s.hintId}`)]);
        const got = citationsOf(packSteps(xs)).map(([k, r]) => `${k}:${r}`);
        expect(got.length).toBe(expected.size);
        expect(new Set(got)).toEqual(expected);
      }),
    );
  });

  it('reject a truncated or foreign blob with the byte offset', () => {
    fc.assert(
      fc.property(steps.filter((xs) => xs.length > 0), fc.nat(), (xs, cut) => {
        const blob = packSteps(xs);
        const at = 1 + (cut % (blob.length - 1));
        // Cut inside a varint (its byte has the continuation bit) must throw, anywhere else it
        // may decode fewer whole fields: never more steps than were packed.
        try {
          expect(unpackSteps(blob.subarray(0, at)).length).toBeLessThanOrEqual(xs.length);
        } catch (e) {
          expect(e).toBeInstanceOf(StepPackError);
        }
      }),
    );
    expect(() => unpackSteps(Buffer.from([]))).toThrow(StepPackError);
    expect(() => unpackSteps(Buffer.from([7, 0, 0]))).toThrow(/unknown format 7 at byte 0/);
    expect(() => unpackSteps(Buffer.from([1, 0x80]))).toThrow(/truncated varint at byte 2/);
  });
});
