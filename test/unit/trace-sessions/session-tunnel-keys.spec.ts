// A session on a logical port, on the chassis a tunnel brings the port's packets to: the arrival names
// the port only by OVN's keys in the tunnel, read as the model reads a push (OvnModel.tunnelKeys).
// OVN >= 25.03 floods an ARP reply reaching a transit router to every chassis of another availability
// zone, and over VXLAN that VNI carries the logical INGRESS port in bits 12..23 (the path's hop says
// ingressKey); a session on that port selected the arrival only by a Geneve option, so never this one.
// A plain VXLAN VNI carries the egress there, no ingress: nothing to select by, and the egress is no
// ingress. Captures: scripts/capture-multichassis-fixtures flood-remote (debian13, unstable) and the
// VXLAN run (hvK.vxlan-m.txt). The service is the real one over a migrated SQLite store; the replicas
// are the captured southbound's model and rows.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sessionsOn } from '../../support/port-sessions';
import { MULTICHASSIS_ROOT, MULTICHASSIS_PAIRS, multichassisKeysOf, multichassisModel, oneCapturedFlow, receiverZoneKeys, VXLAN_PAIRS } from '../../support/captured-multichassis';


// The Geneve case, as before: OVN's option names the ingress (lsp1), whatever the southbound says.
describe.each(MULTICHASSIS_PAIRS)("a session on lsp1, on the chassis its Geneve tunnel reaches (%s)", (pair) => {
  const k = multichassisKeysOf(pair, 'keys.json');
  const model = multichassisModel(k);
  const arrival = oneCapturedFlow(pair, 'hv2.flows-m.txt', (f) => f.recirc === 0 && f.key.includes('tunnel(') && f.key.includes('proto=1,'));
  let env: Awaited<ReturnType<typeof sessionsOn>>;
  beforeAll(async () => {
    env = await sessionsOn(model, 'hv2', ['lsp1', 'lsp2']);
  });
  afterAll(() => env.close());

  it("stores lsp1's echo for lsp1's session", () => {
    expect(env.selecting(arrival.key).filter(([, how]) => how === 'store')).toEqual([['lsp1', 'store']]);
  });
});

const FLOOD_PAIRS = MULTICHASSIS_PAIRS.filter((p) => existsSync(join(MULTICHASSIS_ROOT, p, 'flood-remote.keys.json')));

describe.each(FLOOD_PAIRS)('a session on the port a VXLAN flood to another zone came in by (%s)', (pair) => {
  const k = multichassisKeysOf(pair, 'flood-remote.keys.json');
  const model = multichassisModel(k);
  const arrival = oneCapturedFlow(pair, 'hv2.flood-remote-m.txt', (f) => f.key.includes('tunnel(') && f.key.includes('eth_type(0x0806)'));
  let env: Awaited<ReturnType<typeof sessionsOn>>;
  beforeAll(async () => {
    env = await sessionsOn(model, 'hv2', ['lr0-sw0', 'lr0-az2', 'lsp1']);
  });
  afterAll(() => env.close());

  it("hv2 stores the arrival for lr0-sw0's session, the ingress its VNI names (lr0 | lr0-sw0 << 12), and for no other", () => {
    expect(Number(/tun_id=(0x[0-9a-f]+)/.exec(arrival.key)![1])).toBe(k.datapaths.lr0 | (k.ports['lr0-sw0'].tunnelKey << 12));
    expect(env.selecting(arrival.key)).toEqual([['lr0-sw0', 'store']]);
  });

  // -m prints a wildcarded value as the packet had it (`tp_src=43310/0`): the port bits are there, unmatched.
  it('a megaflow that wildcards the port bits of the VNI cannot say whose packet it is', () => {
    const wild = arrival.key.replace(/tun_id=(0x[0-9a-f]+)/, 'tun_id=$1/0xfff');
    expect(env.selecting(wild)).toEqual([]);
  });
});

// The receiving zone's own southbound, as ovn-ic would write it in hv2's zone (receiverZoneKeys; no two-zone capture
// here): hv2 is this zone's chassis, hv1 the other zone's gateway (is-remote), lr0-sw0 a transit router port of hv1's
// zone bound to hv1. OVN's hv2 takes the flood because ITS southbound marks the sender is-remote; the session read
// the push by the receiver's flag alone (hv2 local: a plain VNI, no ingress) and stored nothing.
describe.each(FLOOD_PAIRS)("the same arrival, in the receiving zone's southbound (%s)", (pair) => {
  const k = multichassisKeysOf(pair, 'flood-remote.keys.json');
  const model = multichassisModel(receiverZoneKeys(k, 'transit'));
  const arrival = oneCapturedFlow(pair, 'hv2.flood-remote-m.txt', (f) => f.key.includes('tunnel(') && f.key.includes('eth_type(0x0806)'));
  let env: Awaited<ReturnType<typeof sessionsOn>>;
  beforeAll(async () => {
    env = await sessionsOn(model, 'hv2', ['lr0-sw0', 'lr0-az2']);
  });
  afterAll(() => env.close());

  it("hv2 stores it for lr0-sw0's session (tun_src hv1 is-remote here), and for no other", () => {
    expect(env.selecting(arrival.key)).toEqual([['lr0-sw0', 'store']]);
  });
});

describe.each(VXLAN_PAIRS)('a session on a port a plain VXLAN arrival goes to (%s)', (pair) => {
  const k = multichassisKeysOf(pair, 'vxlan.keys.json');
  const model = multichassisModel(k);
  // lsp1's echo to lsp2: the VNI is sw0 | lsp2 (the egress) << 12.
  const egressVni = k.datapaths.sw0 | (k.ports.lsp2.tunnelKey << 12);
  const arrival = oneCapturedFlow(pair, 'hv2.vxlan-m.txt', (f) => f.recirc === 0 && f.key.includes(`tun_id=0x${egressVni.toString(16)},`));
  let env: Awaited<ReturnType<typeof sessionsOn>>;
  beforeAll(async () => {
    env = await sessionsOn(model, 'hv2', ['lsp1', 'lsp2']);
  });
  afterAll(() => env.close());

  it("is not selected by the tunnel: the VNI's port is the egress, and the ingress (lsp1) is not carried", () => {
    // lsp2's session may still trace it by its destination (decide); no session stores it as its ingress.
    expect(env.selecting(arrival.key).filter(([, how]) => how === 'store')).toEqual([]);
  });
});
