// A cross-chassis path's provisional and settled fields, its verdict's and its hop's, as GET /paths/:id words them: made by
// the code it runs (src/paths/provisional.ts LinkMarks), not copied, for the tests of what the
// terminal client and the page show of them (test/unit/cli/draw-path.spec.ts, test/browser/ui-cases.ts).
import { LinkMarks, type HopMarks, type MarkFields } from '../../src/paths/provisional';

const HOUR = 3_600_000;

/**
 * The verdict's fields and the hop's for one hop from `traceId` to `chassis`, which never told a
 * mark: sent two days back (`settled`: past the 24 h bound, settled without it) or just now
 * (`provisional`). `chassis` null: none known for the tunnel to `ip`.
 */
export async function markFields(state: 'settled' | 'provisional', traceId: number, chassis: string | null = 'hv2', ip = '192.168.0.2'): Promise<{ verdict: MarkFields; hop: HopMarks }> {
  const marks = new LinkMarks(async () => null, 1000, 24 * HOUR);
  const sent = state === 'settled' ? Date.now() - 48 * HOUR : Date.now();
  const hop = await marks.judge('receiver', chassis, traceId, { near: { from: sent, to: sent + 50 } }, ip);
  return { verdict: marks.verdictFields(), hop };
}
