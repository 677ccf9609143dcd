// The recirculation index on keys in the kernel datapath's form (masked: a wildcarded field reads
// 0/0, a wildcarded IP protocol leaves no L4 attribute and no ct_tuple; test/support/kernel-form.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IndexedFlow, RecircIndex } from '../../../src/collectors/recirc-index';
import { parseDumpLine } from '../../../src/ovs/dump-flows';
import { indexedFlow } from '../../support/packet-paths';
import { kernelForm } from '../../support/kernel-form';

interface FlowRow {
  id: number;
  ufid: string;
  key: string;
  actions: string;
}
const FIXTURE = JSON.parse(readFileSync(join(__dirname, '../../fixtures/paths/lb-vip-reused-recirc.json'), 'utf8')) as {
  datapath_flow: FlowRow[];
  recirc_edge: Array<{ parent_id: number; child_id: number }>;
};

function edges(rows: FlowRow[]): string[] {
  const flows = rows.map((r) => ({ id: r.id, ...indexedFlow(parseDumpLine(`ufid:${r.ufid}, ${r.key}, packets:0, bytes:0, used:never, actions:${r.actions}`)) }));
  const index = new RecircIndex<IndexedFlow & { id: number }>();
  for (const f of flows) index.add(f);
  return flows.flatMap((c) => index.parentsOf(c).map((p) => `${p.id}->${c.id}`)).sort();
}

describe('recirculation edges on kernel-form keys', () => {
  const kernel = FIXTURE.datapath_flow.map((r) => ({ ...r, key: kernelForm(r.key) }));
  const recorded = FIXTURE.recirc_edge.map((e) => `${e.parent_id}->${e.child_id}`).sort();

  it('the derived keys read as the kernel dumps them', () => {
    const hash = kernel.find((r) => r.id === 49)!.key;
    expect(hash).toContain('ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0,ttl=0/0,frag=no)');
    expect(hash).not.toMatch(/tcp\(|ct_tuple4/);
    expect(kernel.find((r) => r.id === 44)!.key).toContain('ipv4(src=0.0.0.0/0.0.0.0,');
  });

  it('links a child whose key wildcards what its parent matches (proto=0/0 and no tcp(), src=0.0.0.0/0.0.0.0)', () => {
    // 48 → 49: 48 matches tcp dst=80 to 10.0.0.100, 49 (after hash) has proto=0/0 and no tcp().
    // 45 → 44 and 47 → 44: 44 wildcards the source address its parents match.
    const found = edges(kernel);
    for (const e of ['48->49', '45->44', '47->44']) expect(found).toContain(e);
    // Never an edge the userspace keys do not have.
    expect(found.filter((e) => !recorded.includes(e))).toEqual([]);
  });

  // 46 → 47 is the VIP's DNAT: 47's packet reads dst 10.0.0.3, and in kernel form neither its
  // ct_state (+dnat sits outside its mask 0x3f) nor a ct_tuple4 (proto wildcarded) says it was
  // 10.0.0.100 before ct(nat); linking it would need treating every bare ct(nat) as a rewrite.
  it.todo('links a DNATed child in kernel form to the pass that ran ct(nat) (46 → 47)');
});
