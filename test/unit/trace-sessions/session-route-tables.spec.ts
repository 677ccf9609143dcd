// Where a packet to a port session's port starts (portTarget's datapaths) when a router on the way
// has route tables: only the switches on the router's ports whose own table routes the address
// toward the port, as ovn-trace routed the captured packets (scripts/capture-route-table-fixtures:
// lr0-a picks table blue, lr0-d green, lr0-b and lr0-c none; every static route's next hop is on
// swC). For each next hop a captured trace took, a router `ext` holding that address on swC and
// the destination's network behind it on `far`, with the session's port there: the walk goes from
// far through ext to swC, then into lr0 by exactly the ports whose traces handed the packet to that
// next hop. A session on lspB (lr0's connected network 10.2.0.0/24): every port whose trace took
// the connected route.
import { portTarget } from '../../../src/trace-sessions/port-target';
import type { ReplicasService } from '../../../src/replicas/replicas.service';
import { addRouter, addSwitch } from '../../support/router-rows';
import { ROUTE_TABLE_VERSIONS, routeTableCases, routeTableReplicas, tracedHops, type RouteTableCase } from '../../support/captured-route-tables';

/** lr0 and the switches of the cases whose traced route hands the packet to `nexthop` (null: the destination itself). */
function enteringBy(version: string, cases: RouteTableCase[], nexthop: string | null): string[] {
  const by = cases.filter((c) => tracedHops(version, c).some((h) => h.nexthop === nexthop));
  return by.length ? ['lr0', ...by.map((c) => c.switch)] : [];
}

const datapaths = (replicas: ReturnType<typeof routeTableReplicas>, port: string) =>
  [...portTarget(replicas as unknown as ReplicasService, port)!.datapaths!].sort();

describe.each(ROUTE_TABLE_VERSIONS)('a port session behind a router with route tables (%s)', (version) => {
  const cases = routeTableCases(version);
  const routed = [...new Set(cases.flatMap((c) => tracedHops(version, c).flatMap((h) => (h.nexthop === null ? [] : [`${c.dst} ${h.nexthop}`]))))];

  it('has static routes to test: global only, blue only, both, ECMP', () => {
    expect(routed.length).toBeGreaterThanOrEqual(7);
  });

  it.each(routed)('%s: the switches of the ports whose table routes it to that next hop', (pair) => {
    const [dst, nexthop] = pair.split(' ');
    const replicas = routeTableReplicas(version);
    const net = dst.replace(/\.\d+$/, '');
    addRouter(replicas, 'ext', [{ name: 'ext-c', networks: [`${nexthop}/24`], on: 'swC' }, { name: 'ext-far', networks: [`${net}.1/24`], on: 'far' }]);
    addSwitch(replicas, 'far', [{ name: 'host', mac: `50:54:00:00:99:05 ${dst}` }]);
    const expected = new Set(['far', 'ext', 'swC', ...enteringBy(version, cases.filter((c) => c.dst === dst), nexthop)]);
    expect(datapaths(replicas, 'host')).toEqual([...expected].sort());
  });

  it("on lr0's connected network: every port's table has it", () => {
    const replicas = routeTableReplicas(version);
    const expected = new Set(['swB', ...enteringBy(version, cases.filter((c) => c.dst === '10.2.0.5'), null)]);
    expect(datapaths(replicas, 'lspB')).toEqual([...expected].sort());
  });
});
