// Which port a logical router sends an address out of (routeHopsByIngress), as northd's
// lr_in_ip_routing decides: longest prefix over connected networks and dst-ip static routes, a
// connected network over a static route of the same length, ECMP routes all, a discard route none,
// a packet entering by a port with a route table seeing the connected networks and that table's
// routes only, IPv4 and IPv6 apart. (router-route-tables.spec.ts: the same against ovn-trace.)
import { capturedReplicas } from '../../support/captured-model';
import { addRouter } from '../../support/router-rows';
import { routeHopsByIngress } from '../../../src/ovn/router-routes';

describe('the ports a router sends an address out of', () => {
  const replicas = capturedReplicas();
  addRouter(replicas, 'rt', [
    { name: 'rt-a', networks: ['192.168.1.1/24', 'fd0a::1/64'], on: 'swA' },
    { name: 'rt-b', networks: ['192.168.2.1/24'], on: 'swB2' },
    { name: 'rt-c', networks: ['192.168.3.1/24'], on: 'swC' },
    { name: 'rt-d', networks: ['192.168.4.1/24'], on: 'swD', routeTable: 'blue' },
  ], [
    { prefix: '10.0.0.0/8', nexthop: '192.168.1.2' },
    { prefix: '10.1.0.0/16', nexthop: '192.168.2.2' },
    { prefix: '10.1.0.0/16', nexthop: '192.168.3.2' },
    { prefix: '10.2.0.0/16', nexthop: 'discard' },
    { prefix: '192.168.1.0/24', nexthop: '192.168.2.2' },
    { prefix: '10.3.0.0/16', nexthop: '192.168.3.2', routeTable: 'blue' },
    { prefix: '::/0', nexthop: 'fd0a::2' },
    { prefix: '10.4.0.9', nexthop: '192.168.9.9', outputPort: 'rt-c' },
    { prefix: '10.5.0.0/16', nexthop: '192.168.9.9' },
  ]);
  const router = [...replicas.nb.rows('Logical_Router')].find((r) => r.name === 'rt')!;
  /** The ports a packet to `ips` entering by `ingress` (default rt-b: no route table) leaves by. */
  const from = (ingress: string, ...ips: string[]) => [...new Set((routeHopsByIngress(replicas.nb, router, ips).get(ingress) ?? []).map((h) => h.port))].sort();
  const out = (...ips: string[]) => from('rt-b', ...ips);

  it('takes the longest prefix; equal static routes are ECMP; a discard route leaves by none', () => {
    expect(out('10.9.9.9')).toEqual(['rt-a']);
    expect(out('10.1.2.3')).toEqual(['rt-b', 'rt-c']);
    expect(out('10.2.0.1')).toEqual([]);
    expect(out('172.16.0.1')).toEqual([]);
  });

  it('a connected network over a static route of the same length; output_port over the nexthop; a bare prefix is a host route', () => {
    expect(out('192.168.1.7')).toEqual(['rt-a']);
    expect(out('10.4.0.9')).toEqual(['rt-c']);
    expect(out('10.4.0.8')).toEqual(['rt-a']);
  });

  it('a route whose nexthop no network of the router holds (and no output_port) is none: northd installs no flow for it', () => {
    expect(out('10.5.0.1')).toEqual(['rt-a']);
  });

  it("a route table's routes for the packets entering by the ports that pick it, and the global ones for the others", () => {
    expect(from('rt-d', '10.3.0.1')).toEqual(['rt-c']);
    expect(out('10.3.0.1')).toEqual(['rt-a']);
    expect(from('rt-d', '10.9.9.9', '192.168.2.7')).toEqual(['rt-b']);
  });

  it('IPv6 by IPv6 routes only, and addresses asked together answer together', () => {
    expect(out('fd00::1')).toEqual(['rt-a']);
    expect(out('fd0a::9', '10.1.0.1')).toEqual(['rt-a', 'rt-b', 'rt-c']);
  });
});
