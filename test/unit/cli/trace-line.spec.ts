// `ovn-livetrace port lsp1`'s line for a pass, as the page of GET /traces?logical_port= gives it:
// a routed packet's far pass says which chassis saw it and which trace sent it there.
import { paint, traceLine } from '../../../src/cli/render';

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
