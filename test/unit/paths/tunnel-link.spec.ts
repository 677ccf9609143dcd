// The cross-chassis link over lines captured on a real three-chassis sandbox
// (test/fixtures/captured-multichassis/<pair>/, docs/multi-chassis.md): which receiving pass a
// sender's tunnel push reaches, by tunnel, inner packet (after the sender's rewrites) and time.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { arrivalOf, gapMs, innerFields, LinkFlow, linkTunnels, samePacket } from '../../../src/paths/tunnel-link';
import { pushesOf, senderOf } from '../../../src/paths/tunnel-link';

const ROOT = join(__dirname, '../../fixtures/captured-multichassis');
const PAIRS = readdirSync(ROOT).sort();
const T0 = Date.parse('2026-12-05T03:00:00Z');

function flows(pair: string, file: string, chassis: string, at = T0): LinkFlow[] {
  return readFileSync(join(ROOT, pair, file), 'utf8')
    .split('\n')
    .filter((l) => l.includes(', actions:'))
    .map((line) => {
      const key = line.slice(0, line.indexOf(', packets:')).replace(/^ufid:\S+ /, '');
      const actions = line.slice(line.indexOf(', actions:') + ', actions:'.length).replace(/, dp-extra-info:.*$/, '');
      const recirc = /recirc_id\((0x[0-9a-f]+|\d+)\)/.exec(key);
      return { chassis, key, actions, recircId: Number(recirc?.[1] ?? 0), from: at, to: at + 50 };
    });
}

function one<T>(list: T[], what: string, pred: (f: T) => boolean): T {
  const hits = list.filter(pred);
  if (hits.length !== 1) throw new Error(`expected one ${what}, found ${hits.length}`);
  return hits[0];
}

describe.each(PAIRS)('tunnel links on %s', (pair) => {
  const hv1 = flows(pair, 'hv1.flows-m.txt', 'hv1');
  const hv2 = flows(pair, 'hv2.flows-m.txt', 'hv2');
  const hv3 = flows(pair, 'hv3.flows-m.txt', 'hv3');
  const toLsp2 = one(hv1, 'push to lsp2', (f) => f.key.includes('dst=50:54:00:00:00:02') && f.actions.includes('tnl_push('));
  const routed = one(hv1, 'routed push', (f) => f.key.includes('dst=00:00:00:00:ff:01'));

  it('takes as arrivals only first passes with a tunnel in their key (not the tnl_pop of the outer packet)', () => {
    const arrivals = hv2.filter((f) => arrivalOf(f));
    expect(arrivals.length).toBeGreaterThan(0);
    expect(arrivals.every((f) => f.key.includes('in_port(genev_sys_6081)'))).toBe(true);
    expect(hv2.filter((f) => f.actions.startsWith('tnl_pop(')).every((f) => !arrivalOf(f))).toBe(true);
  });

  it('links the switched ping to its arrival on hv2, never to hv3 or to a pass of its own chassis', () => {
    const [link] = linkTunnels(toLsp2, [...hv1, ...hv3, ...hv2], 1000);
    expect(link.push.remoteIp).toBe('192.168.0.2');
    expect(link.receiver?.chassis).toBe('hv2');
    expect(arrivalOf(link.receiver!)).toBeDefined();
  });

  it("links the routed ping to hv3's arrival, comparing the inner packet after the router's rewrites", () => {
    const [link] = linkTunnels(routed, [...hv2, ...hv3], 1000);
    expect(link.receiver?.chassis).toBe('hv3');
    expect(link.receiver?.key).toContain('eth(src=00:00:00:00:ff:02');
    const push = pushesOf(routed.actions)[0];
    const received = innerFields(link.receiver!.key);
    expect(link.push).toEqual(push);
    expect(samePacket(link.sent!, received)).toBe(true);
    // Without the set(eth(…)) before the push, the sender's source MAC is the VM's: no match.
    expect(samePacket(innerFields(routed.key), received)).toBe(false);
  });

  it("links the kernel form's routed push to hv3's arrival: the router's set()s after set(tunnel(…)) still apply before the output", () => {
    // tnl_push_pop off (the kernel datapath's form): OVS 3.1 and 3.5 write set(tunnel(…)) first, then
    // set(eth(…)),set(ipv4(ttl=63)), then the tunnel port; the packet leaves at the port, rewritten.
    const kernel = flows(pair, 'hv1.kernel-form.txt', 'hv1').filter((f) => f.key.includes('dst=00:00:00:00:ff:01'));
    expect(kernel.length).toBe(2); // with -m and without
    for (const sender of kernel) {
      const [link] = linkTunnels(sender, [...hv2, ...hv3], 1000);
      expect(link.receiver?.chassis).toBe('hv3');
      expect(link.receiver?.key).toContain('eth(src=00:00:00:00:ff:02');
    }
  });

  it('links an IPv4 and an IPv6 echo through the same tunnel each to its own arrival (ip6 dropped on hv2 by an ACL)', () => {
    // Same MACs, same VNI and port keys: the inner packet's family (eth_type) is all that tells the
    // arrivals apart (hv2's IPv4 megaflow wildcards the protocol and addresses).
    const sent = flows(pair, 'hv1.dual-stack-m.txt', 'hv1');
    const v4 = one(sent, 'IPv4 push', (f) => f.key.includes('eth_type(0x0800)'));
    const v6 = one(sent, 'IPv6 push', (f) => f.key.includes('eth_type(0x86dd)'));
    // Each sender's own arrival started 100 ms after the other's: the nearer one is the other packet's.
    const at = (f: LinkFlow, from: number) => ({ ...f, from, to: from + 50 });
    const recv = flows(pair, 'hv2.dual-stack-m.txt', 'hv2').filter((f) => arrivalOf(f));
    const v4In = at(one(recv, 'IPv4 arrival', (f) => f.actions === 'vif2'), T0 + 100);
    const v6In = at(one(recv, 'IPv6 arrival', (f) => f.actions === 'drop'), T0 - 100);
    expect(linkTunnels(at(v4, T0 - 95), [v4In, v6In], 1000)[0].receiver?.actions).toBe('vif2');
    expect(linkTunnels(at(v6, T0 + 95), [v4In, v6In], 1000)[0].receiver?.actions).toBe('drop');
    expect(senderOf(v6In, [at(v4, T0 - 95), at(v6, T0 + 95)], 1000)?.key).toBe(v6.key);
    expect(senderOf(v4In, [at(v4, T0 - 95), at(v6, T0 + 95)], 1000)?.key).toBe(v4.key);
    // The IPv6 addresses are read (OVS's compressed form and masks), as IPv4's are.
    const fields = innerFields(v6.key);
    expect(fields.get('eth_type.')?.value).toBe(0x86ddn);
    expect(fields.get('ipv6.dst')?.value).toBe(0xfd00_0000_0000_0000_0000_0000_0000_0002n);
    expect(fields.get('ipv6.src')?.value).toBe(0xfd00_0000_0000_0000_0000_0000_0000_0001n);
  });

  it('leaves the push unlinked when the only fitting arrival is outside the skew window', () => {
    const late = flows(pair, 'hv2.flows-m.txt', 'hv2', T0 + 5000);
    const [link] = linkTunnels(toLsp2, late, 1000);
    expect(link.receiver).toBeUndefined();
    expect(linkTunnels(toLsp2, late, 10_000)[0].receiver?.chassis).toBe('hv2');
  });

  it('prefers the arrival closest in time when a repeated packet fits several', () => {
    const early = flows(pair, 'hv2.flows-m.txt', 'hv2', T0 - 900).filter((f) => arrivalOf(f));
    const close = flows(pair, 'hv2.flows-m.txt', 'hv2', T0 + 20).filter((f) => arrivalOf(f));
    const [link] = linkTunnels(toLsp2, [...early, ...close], 1000);
    expect(link.receiver?.from).toBe(T0 + 20);
  });

  it("prefers the arrival that started with the sender over an earlier packet's arrival still installed", () => {
    // hv1's flow lives 50 ms (purged); hv2's agent first sees the new arrival 300 ms after it started,
    // while the earlier arrival, installed 5 s before, overlaps the sender (lifetime gap 0).
    const sender = { ...toLsp2, from: T0, to: T0 + 50 };
    const old = flows(pair, 'hv2.flows-m.txt', 'hv2', T0 - 5000).filter((f) => arrivalOf(f)).map((f) => ({ ...f, to: T0 + 10_000 }));
    const fresh = flows(pair, 'hv2.flows-m.txt', 'hv2', T0 + 300).filter((f) => arrivalOf(f));
    expect(linkTunnels(sender, [...old, ...fresh], 1000)[0].receiver?.from).toBe(T0 + 300);
    expect(senderOf(fresh[0], [{ ...sender, from: T0 - 5000, to: T0 + 10_000 }, sender], 1000)).toBe(sender);
  });

  it('links the push made after conntrack (a recirculated pass) to the first pass on hv2, not its recirculation', () => {
    const sent = one(flows(pair, 'hv1.stateful.flows-m.txt', 'hv1'), 'push after ct', (f) => f.actions.includes('tnl_push('));
    expect(sent.recircId).not.toBe(0);
    const [link] = linkTunnels(sent, flows(pair, 'hv2.stateful.flows-m.txt', 'hv2'), 1000);
    expect(link.receiver?.recircId).toBe(0);
    expect(link.receiver?.actions).toMatch(/recirc\(/);
  });

  it("finds the sender of hv3's arrival among hv1's and hv2's passes: the routed push, not the switched one", () => {
    const arrival = one(hv3, 'arrival on hv3', (f) => !!arrivalOf(f));
    expect(senderOf(arrival, [...hv1, ...hv2], 1000)).toBe(routed);
    expect(senderOf(arrival, [toLsp2], 1000)).toBeUndefined();
    expect(senderOf(arrival, flows(pair, 'hv1.flows-m.txt', 'hv1', T0 - 5000), 1000)).toBeUndefined();
  });

  it('never throws on actions or keys it cannot read', () => {
    expect(pushesOf('tnl_push(tnl_port(')).toEqual([]);
    expect(arrivalOf({ key: 'tunnel(tun_id=', recircId: 0 })).toBeUndefined();
    expect(linkTunnels({ ...toLsp2, actions: 'set(tunnel(dst=1.2.3.4' }, hv2, 1000)).toEqual([]);
  });
});

describe('gapMs', () => {
  it('is 0 for overlapping lifetimes and the distance otherwise', () => {
    expect(gapMs({ from: 0, to: 10 }, { from: 5, to: 20 })).toBe(0);
    expect(gapMs({ from: 0, to: 10 }, { from: 30, to: 40 })).toBe(20);
    expect(gapMs({ from: 30, to: 40 }, { from: 0, to: 10 })).toBe(20);
  });
});
