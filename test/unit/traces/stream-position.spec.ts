// The stream's position (stream-position.ts) past MAX_LISTED_SLOTS writer slots holding traces: one
// trace id a slot grew ~14 bytes a slot, so with ~1,100 agents the stream's own id was one a
// reconnect could not send back (400 past 1,024 entries, Node's 16 KB header limit past ~1,100).
// The id stays bounded whatever the number of slots: a time anchor and the exact ids of the slots
// that need them; the forms clients already hold still parse as before.
import { formatPosition, MAX_LISTED_SLOTS, parseResumePoint, positionOf, positionsOf, SinceTime } from '../../../src/traces/stream-position';
import { MAX_SLOT } from '../../../src/storage/spool';

const SLOT = 2 ** 40;
const T0 = Date.parse('2026-12-05T03:00:00.000Z');

describe('a stream position past MAX_LISTED_SLOTS slots', () => {
  // Every slot there can be holds traces, each stream-current from T0 (its reorder window taken
  // off); slot s last sent one at T0 - s ms (slot 0 the most recent), some never.
  const slots = Array.from({ length: MAX_SLOT + 1 }, (_, s) => s);
  const lastIds = new Map(slots.map((s) => [s, s * SLOT + 1000 + s]));
  const cover = new Map(slots.map((s) => [s, { from: T0 - 5000, sentAt: s % 3 === 2 ? 0 : T0 - s }]));

  it('is bounded and parses back: the slots sent to most recently by their ids, every other from the anchor', () => {
    const id = formatPosition(lastIds, cover);
    // Well under Node's 16 KB header limit, whatever the number of slots.
    expect(id.length).toBeLessThan(4096);
    const back = parseResumePoint(id);
    expect(back).toBeInstanceOf(SinceTime);
    const since = back as SinceTime;
    expect(new Date(since.from).toISOString()).toBe(new Date(T0 - 5000).toISOString());
    expect(since.size).toBe(MAX_LISTED_SLOTS);
    const recent = slots.filter((s) => s % 3 !== 2).slice(0, MAX_LISTED_SLOTS);
    expect([...since].sort((a, b) => a[0] - b[0])).toEqual(recent.map((s) => [s, lastIds.get(s)]));
  });

  it('lists first the slots the stream is not current in (their traces since are older than the others): the anchor is the oldest time of the slots left out', () => {
    // More slots behind than are listed (walked later, MAX_SLOTS_A_POLL a tick): the furthest behind listed; of the rest, those not listed set the anchor.
    const end = 1000 + MAX_LISTED_SLOTS + 36;
    const behind = new Map(cover);
    for (let s = 1000; s < end; s++) behind.set(s, { from: T0 - 60_000 - s, sentAt: 0 });
    const since = parseResumePoint(formatPosition(lastIds, behind)) as SinceTime;
    const listed = [...since.keys()];
    expect(listed.length).toBe(MAX_LISTED_SLOTS);
    expect(listed.every((s) => s >= end - MAX_LISTED_SLOTS && s < end)).toBe(true);
    // The oldest of those left out: slot end - MAX_LISTED_SLOTS - 1.
    expect(since.from).toBe(T0 - 60_000 - (end - MAX_LISTED_SLOTS - 1));
  });

  it("a poll's ids (positionsOf, chosen once) are formatPosition's; a slot sending its first trace is listed at its base until then, or bounds the anchor", () => {
    const state = new Map(slots.map((s) => [s, { lastId: lastIds.get(s)!, coveredFrom: cover.get(s)!.from, sentAt: cover.get(s)!.sentAt }]));
    expect(positionOf(state)).toBe(formatPosition(lastIds, cover));
    // A slot met since, nothing sent yet, its cover the oldest: listed (at its base), else it would take the anchor back.
    const fresh = MAX_SLOT;
    state.set(fresh, { lastId: fresh * SLOT, coveredFrom: T0 - 90_000, sentAt: 0 });
    const ids = positionsOf(state, new Set([fresh]));
    expect((parseResumePoint(ids()) as SinceTime).get(fresh)).toBe(fresh * SLOT);
    expect((parseResumePoint(ids()) as SinceTime).from).toBe(T0 - 5000);
    state.get(fresh)!.lastId = fresh * SLOT + 7;
    expect((parseResumePoint(ids()) as SinceTime).get(fresh)).toBe(fresh * SLOT + 7);
  });

  it('keeps the forms clients hold: up to MAX_LISTED_SLOTS slots one id each (slot 0 first), and the trace id on one slot', () => {
    const few = new Map([[0, 7], [1, SLOT + 3], [2, 2 * SLOT]]);
    expect(formatPosition(few, cover)).toBe(`7,${SLOT + 3}`);
    expect(formatPosition(new Map([[0, 42]]), cover)).toBe('42');
    expect(formatPosition(new Map([[2, 2 * SLOT + 9]]), cover)).toBe(`0,${2 * SLOT + 9}`);
    const full = new Map(slots.slice(0, MAX_LISTED_SLOTS).map((s) => [s, s * SLOT + 1]));
    expect(formatPosition(full, cover).split(',')).toHaveLength(MAX_LISTED_SLOTS);
    // The old long form still reads as it did (a client holding one).
    const long = slots.slice(0, 1024).map((s) => s * SLOT + 1).join(',');
    expect((parseResumePoint(long) as Map<number, number>).size).toBe(1024);
    expect(parseResumePoint(long)).not.toBeInstanceOf(SinceTime);
  });

  it.each([
    ['an anchor alone: every slot from that time', `t${T0}`, new Map()],
    ['an anchor and two slots', `t${T0},5,${SLOT + 9}`, new Map([[0, 5], [1, SLOT + 9]])],
  ])('reads %s', (_what, header, ids) => {
    const p = parseResumePoint(header) as SinceTime;
    expect(p).toBeInstanceOf(SinceTime);
    expect(p.from).toBe(T0);
    expect(new Map(p)).toEqual(ids);
  });

  it.each([
    ['an anchor not first', `5,t${T0}`, /the time anchor t… must come first/],
    ['an anchor without its time', 't,5', /time anchor must be t and the milliseconds since 1970/],
    ['an anchor with a fraction', `t${T0}.5`, /time anchor must be t and the milliseconds since 1970/],
    ['an anchor past year 9999', 't999999999999999', /time anchor .* is past year 9999/],
    ['two anchors', `t${T0},t${T0}`, /the time anchor t… must come first/],
    ['too many ids after an anchor', `t${T0},` + slots.slice(0, MAX_LISTED_SLOTS + 1).map((s) => s * SLOT).join(','), new RegExp(`at most ${MAX_LISTED_SLOTS} trace ids after its time anchor`)],
    ['one slot twice after an anchor', `t${T0},${SLOT + 1},${SLOT + 2}`, /names writer slot 1 twice/],
    ['a word after an anchor', `t${T0},x`, /must be a trace id/],
  ])('refuses %s, saying why', (_what, header, why) => {
    expect(parseResumePoint(header)).toMatch(why);
  });
});
