// `ovn-livetrace port lsp1`'s line for a pass, as the page of GET /traces?logical_port= gives it:
// a routed packet's far pass says which chassis saw it and which trace sent it there.
import { oldestFirst, paint, traceLine } from '../../../src/cli/render';

const plain = paint(false);
const base = {
  id: 7,
  createdAt: '2026-12-05T08:00:00.123Z',
  flow: 'icmp,in_port=1,dl_src=50:54:00:00:00:01,nw_src=10.0.0.1,nw_dst=10.0.1.3',
  verdict: { kinds: ['output'], logicalPorts: ['lsp3'] },
  pathId: 3,
  chassis: 'hv3',
};

describe('traceLine', () => {
  it('prints a pass of the port itself as before', () => {
    expect(traceLine(base, plain)).toBe('08:00:00.123      7 icmp 10.0.0.1 -> 10.0.1.3                    output to lsp3  path 3');
  });

  it("names a far pass's chassis and its sender", () => {
    expect(traceLine({ ...base, arrivedFrom: { traceId: 5, chassis: 'hv1' } }, plain)).toBe(
      '08:00:00.123      7 icmp 10.0.0.1 -> 10.0.1.3                    output to lsp3  path 3  on hv3, sent by trace 5 on hv1',
    );
  });
});

describe('traceLine of a hand-typed flow', () => {
  it('says the pass is a hand-typed flow (POST /traces), not a live packet', () => {
    expect(traceLine({ ...base, pathId: null, origin: 'hand-typed' }, plain)).toBe(
      '08:00:00.123      7 icmp 10.0.0.1 -> 10.0.1.3                    output to lsp3  hand-typed flow, not a live packet',
    );
    expect(traceLine({ ...base, origin: 'live' }, plain)).toBe(traceLine(base, plain));
  });
});

describe('oldestFirst', () => {
  it('reverses the page and keeps each far pass right after its sender', () => {
    const page = [{ id: 9 }, { id: 8 }, { id: 30, arrivedFrom: { traceId: 8, chassis: 'hv1' } }, { id: 7 }, { id: 20, arrivedFrom: { traceId: 7, chassis: 'hv1' } }, { id: 21, arrivedFrom: { traceId: 7, chassis: 'hv1' } }];
    expect(oldestFirst(page).map((t) => t.id)).toEqual([7, 20, 21, 8, 30, 9]);
  });

  it('a page that starts with a far pass (its sender on the previous page) keeps it first', () => {
    expect(oldestFirst([{ id: 30, arrivedFrom: { traceId: 8, chassis: 'hv1' } }, { id: 7 }]).map((t) => t.id)).toEqual([7, 30]);
  });

  it('a ?chassis= page: far passes whose senders are on another chassis sit where their senders would, oldest first', () => {
    const page = [{ id: 20 }, { id: 19 }, { id: 4, arrivedFrom: { traceId: 3, chassis: 'hv1' } }, { id: 5, arrivedFrom: { traceId: 3, chassis: 'hv1' } }, { id: 2 }];
    expect(oldestFirst(page).map((t) => t.id)).toEqual([2, 4, 5, 19, 20]);
  });
});

