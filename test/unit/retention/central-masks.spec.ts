// PostgreSQL's retention clears exactly the citation bits of the traces it deletes: one mask per
// (kind, ref, bucket of 32 trace ids), from each trace's own packed steps (central-retention-store.ts).
import { citationMasks } from '../../../src/retention/central-retention-store';
import { SLOT_BITS } from '../../../src/storage/spool';
import { packSteps } from '../../../src/traces/step-pack';

const step = (seq: number, lflowId: number | null, hintId: number | null) => ({ seq, depth: 0, ruleId: 1, lflowId, ownerId: null, hintId, flags: 0 });
const rows = (cols: [number[], number[], number[], number[]]) => cols[0].map((kind, i) => [kind, cols[1][i], cols[2][i], cols[3][i]]).sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);

describe('citationMasks', () => {
  it('one mask a (kind, ref, bucket), a bit a trace, each citation once however many steps cite it', () => {
    const base = 5 * 2 ** SLOT_BITS; // a slot's first bucket: ids base + 1 … base + 31
    const traces = [
      { id: base + 1, steps: packSteps([step(0, 7, 3), step(1, 7, null), step(2, 9, null)]) },
      { id: base + 31, steps: packSteps([step(0, 7, null)]) },
      { id: base + 32, steps: packSteps([step(0, 7, 3)]) }, // the next bucket
    ];
    const b = base / 32;
    expect(rows(citationMasks(traces))).toEqual([
      [0, 7, b, (2 ** 1 + 2 ** 31) >>> 0],
      [0, 7, b + 1, 1],
      [0, 9, b, 2],
      [1, 3, b, 2],
      [1, 3, b + 1, 1],
    ]);
  });

  it('no steps, no masks', () => {
    expect(citationMasks([{ id: 64, steps: packSteps([]) }])).toEqual([[], [], [], []]);
  });
});
