// A path that starts with a tunnel arrival misses its start (cross-checks.service.ts answers 422
// rather than a divergence at its first pipeline): the arrival is told by the tun_* fields of the
// first pass's Flow: line, which ofproto/trace prints only for a packet that came through a tunnel.
// Real lines: the receiving chassis's trace of the three-chassis capture on every pair, and every
// other captured trace (none came through a tunnel).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { arrivedThrough } from '../../../src/cross-checks/microflow';

const FIXTURES = join(__dirname, '../../fixtures');
const flowLines = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return flowLines(p);
    if (!name.endsWith('.txt')) return [];
    return readFileSync(p, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Flow: '))
      .map((l) => l.slice('Flow: '.length));
  });

describe('arrivedThrough', () => {
  it.each(['debian12', 'debian13', 'unstable'])("%s: hv2's arrival from hv1 names hv1's encap address", (os) => {
    const lines = flowLines(join(FIXTURES, 'captured-multichassis', os)).filter((l) => l.includes('tun_src='));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(arrivedThrough(l)).toBe('192.168.0.1');
  });

  it('no captured pass of a VM port or a localnet came through a tunnel', () => {
    const lines = [...flowLines(join(FIXTURES, 'captured')), ...flowLines(join(FIXTURES, 'verdicts'))];
    expect(lines.length).toBeGreaterThan(900);
    expect(lines.filter((l) => arrivedThrough(l) !== null)).toEqual([]);
  });

  it('an IPv6 underlay and a tunnel printed with its id only', () => {
    expect(arrivedThrough('icmp6,tun_id=0x1,tun_ipv6_src=fd00::1,tun_ipv6_dst=fd00::2,in_port=1')).toBe('fd00::1');
    expect(arrivedThrough('icmp,tun_id=0x1,in_port=1')).toBe('a tunnel');
    expect(arrivedThrough('icmp,in_port=1,nw_src=10.0.0.1')).toBeNull();
  });
});
