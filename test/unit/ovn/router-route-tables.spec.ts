// The route a router applies to a packet by the port it entered by (routeHopsByIngress), against
// ovn-trace on every pair (scripts/capture-route-table-fixtures): lr0-a picks route table blue,
// lr0-d green (no route of its own), lr0-b and lr0-c none. A port with a table sees the connected
// networks and its own table's static routes, not the global ones (whatever 23.03's ovn-nb(5)
// says); a port without one sees the connected networks and the global routes; a table no port
// picks (red) is used by no packet; one prefix in two tables is no ECMP.
import { routeHopsByIngress } from '../../../src/ovn/router-routes';
import { ROUTE_TABLE_VERSIONS, routeTableCases, routeTableReplicas, tracedHops } from '../../support/captured-route-tables';

const sorted = <T>(xs: T[]) => xs.map((x) => JSON.stringify(x)).sort();

describe.each(ROUTE_TABLE_VERSIONS)('the route taken by the port a packet entered by (%s)', (version) => {
  const replicas = routeTableReplicas(version);
  const lr0 = [...replicas.nb.rows('Logical_Router')].find((r) => r.name === 'lr0')!;
  const cases = routeTableCases(version);

  it('is captured for every ingress and destination, some dropped, some by ECMP', () => {
    expect(cases).toHaveLength(36);
    expect(cases.filter((c) => tracedHops(version, c).length === 0).length).toBeGreaterThan(0);
    expect(cases.filter((c) => tracedHops(version, c).length === 2).length).toBeGreaterThan(0);
  });

  it.each(routeTableCases(version).map((c) => [c.name, c] as const))('%s: the way out ovn-trace took', (_name, c) => {
    expect(sorted(routeHopsByIngress(replicas.nb, lr0, [c.dst]).get(c.ingress) ?? [])).toEqual(sorted(tracedHops(version, c)));
  });
});
