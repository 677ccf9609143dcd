// This chassis's progress mark (chassis_mark): through M, every flow the poller first saw that a
// session selected is stored or given up. A dump's new flows carry the dump's time; one still on
// its way holds M just below it; none before the sessions were read once.
import { TracedMark } from '../../../src/collectors/traced-mark';

const T = (s: number) => new Date(Date.parse('2026-12-07T03:00:00.000Z') + s * 1000).toISOString();
const justBefore = (iso: string) => new Date(Date.parse(iso) - 1).toISOString();

describe('TracedMark', () => {
  it('the last dump, held below a selected flow on its way until it is stored; never backwards past a dump', () => {
    const m = new TracedMark(() => true);
    expect(m.through()).toBeNull();
    m.dumped(T(1));
    expect(m.through()).toBe(T(1));
    const h = m.hold(T(2));
    m.dumped(T(2));
    m.dumped(T(3));
    expect(m.through()).toBe(justBefore(T(2)));
    m.release(h);
    expect(m.through()).toBe(T(3));
    m.release(h);
    m.dumped(T(2));
    expect(m.through()).toBe(T(3));
  });

  it('none until the sessions were read (the flows of those dumps are taken when they come)', () => {
    let read = false;
    const m = new TracedMark(() => read);
    m.dumped(T(1));
    expect(m.through()).toBeNull();
    read = true;
    expect(m.through()).toBe(T(1));
  });
});

describe('TracedMark of an agent without the poller', () => {
  it('traces nothing, so everything it traced is stored through its clock, once the sessions were read', () => {
    let read = false;
    let now = Date.parse(T(5));
    const m = new TracedMark(() => read, { polling: false, now: () => now });
    expect(m.through()).toBeNull();
    read = true;
    expect(m.through()).toBe(T(5));
    now = Date.parse(T(6));
    expect(m.through()).toBe(T(6));
  });
});
