// The link across the physical network by a localnet port, over lines captured on real two-chassis
// sandboxes (scripts/capture-nat-fixtures --chassis 2: distributed-dnat-and-snat-2hv, every pair):
// hv1 sends the client's packet to the floating IP out br-phys_n1 unchanged, hv2 takes it in there
// (recirc_id 0) and DNATs it; hv2 sends the VM's SNATed reply out br-phys_n1 after ct_clear and hv1
// takes it in to vif7. Which first pass on the other chassis took in the frame a pass sent, by
// packet (after the sender's rewrites) and time; tunnel pushes and arrivals are not localnet hops.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { localnetReceivers, localnetSenderOf } from '../../../src/paths/localnet-link';
import { sentFieldsOfOutputs, type LinkFlow } from '../../../src/paths/tunnel-link';
import { CAPTURED_NAT, NAT_VERSIONS, natCapture, natFlows } from '../../support/captured-nat';

const SCENARIO = 'distributed-dnat-and-snat-2hv';
const T0 = Date.parse('2026-12-08T01:00:00Z');
const SKEW = 2_000;

function linkFlows(version: string, chassis: string, at = T0): LinkFlow[] {
  return natFlows(natCapture(version, SCENARIO, { chassis }), 'userspace').map((f) => ({
    chassis,
    key: f.line.replace(/^ufid:[^,]+, /, '').replace(/, packets:.*$/, ''),
    actions: /, actions:(.*?)(?:, dp-extra-info:.*)?$/.exec(f.line)![1],
    recircId: f.recircId,
    from: at,
    to: at + 50,
  }));
}

function one(list: LinkFlow[], what: string, pred: (f: LinkFlow) => boolean): LinkFlow {
  const hits = list.filter(pred);
  if (hits.length !== 1) throw new Error(`expected one ${what}, found ${hits.length}`);
  return hits[0];
}

describe.each(NAT_VERSIONS)(`localnet links in ${SCENARIO} of %s`, (version) => {
  const hv1 = linkFlows(version, 'hv1');
  const hv2 = linkFlows(version, 'hv2');
  const client = one(hv1, "the client's pass out to the uplink", (f) => f.key.includes('in_port(vif7)') && f.recircId === 0);
  const arrival = one(hv2, "hv2's first pass of the client's packet", (f) => f.recircId === 0 && f.key.includes('in_port(br-phys_n1)') && f.key.includes('dst=50:54:00:00:01:50'));

  it("records the packet at the client's one bare output, the uplink, unchanged", () => {
    const outs = sentFieldsOfOutputs(client);
    expect(outs.map((o) => o.port)).toEqual(['br-phys_n1']);
    expect(outs[0].fields.get('eth.dst')?.value).toBe(0x505400000150n);
  });

  it("links the client's pass to hv2's first pass of that packet only (not its recirculations, ARP or the VM's own)", () => {
    expect(localnetReceivers(client, hv2, SKEW)).toEqual([arrival]);
  });

  it('finds the client from the arrival the other way', () => {
    expect(localnetSenderOf(arrival, hv1, SKEW)).toBe(client);
  });

  it("links hv2's translated replies (ct_clear, then out by the uplink) to hv1's pass that delivers them to vif7", () => {
    const replies = hv2.filter((f) => /(^|,)br-phys_n1$/.test(f.actions) && f.key.includes('in_port(vif6)'));
    expect(replies.length).toBeGreaterThan(0);
    const toVif7 = one(hv1, "hv1's pass to vif7", (f) => f.actions === 'vif7');
    for (const r of replies) expect(localnetReceivers(r, hv1, SKEW)).toEqual([toVif7]);
  });

  it('links nothing on the same chassis, nor past the skew', () => {
    expect(localnetReceivers(client, hv1, SKEW)).toEqual([]);
    const late = linkFlows(version, 'hv2', T0 + 50 + SKEW + 1);
    expect(localnetReceivers(client, late, SKEW)).toEqual([]);
    expect(localnetReceivers(client, linkFlows(version, 'hv2', T0 + 50 + SKEW), SKEW)).toHaveLength(1);
  });

  it('takes the nearest of one chassis, one a chassis (a flooded frame reaches each)', () => {
    const earlier = { ...arrival, from: T0 - 500, to: T0 - 400 };
    const copy = { ...arrival, chassis: 'hv3' };
    expect(localnetReceivers(client, [earlier, arrival, copy], SKEW)).toEqual([arrival, copy]);
  });
});

describe('localnet links and tunnels', () => {
  const ROOT = join(__dirname, '../../fixtures/captured-multichassis');
  const read = (pair: string, file: string, chassis: string): LinkFlow[] =>
    readFileSync(join(ROOT, pair, file), 'utf8')
      .split('\n')
      .filter((l) => l.includes(', actions:'))
      .map((line) => {
        const key = line.slice(0, line.indexOf(', packets:')).replace(/^ufid:\S+ /, '');
        const recirc = /recirc_id\((0x[0-9a-f]+|\d+)\)/.exec(key);
        return { chassis, key, actions: line.slice(line.indexOf(', actions:') + 10).replace(/, dp-extra-info:.*$/, ''), recircId: Number(recirc?.[1] ?? 0), from: T0, to: T0 + 50 };
      });

  it.each(readdirSync(ROOT).sort())('on %s, a tunnel arrival is no localnet receiver of the same inner packet', (pair) => {
    const hv1 = read(pair, 'hv1.flows-m.txt', 'hv1');
    const hv2 = read(pair, 'hv2.flows-m.txt', 'hv2');
    const push = one(hv1, 'push to lsp2', (f) => f.key.includes('dst=50:54:00:00:00:02') && f.actions.includes('tnl_push('));
    // As if the same frame had left untunnelled: the pass's key, sent bare to the uplink.
    const bare = { ...push, actions: 'br-phys_n1' };
    const arrivals = hv2.filter((f) => f.recircId === 0 && f.key.includes('tunnel(') && f.key.includes('dst=50:54:00:00:00:02'));
    expect(arrivals.length).toBeGreaterThan(0);
    expect(localnetReceivers(bare, arrivals, SKEW)).toEqual([]);
    // The uplink output after a tnl_push(…) sends the outer (Geneve) packet, not the key's: no frame of the key's leaves there.
    expect(push.actions).toMatch(/\),br-phys_n1$/);
    expect(sentFieldsOfOutputs(push)).toEqual([]);
  });
});
