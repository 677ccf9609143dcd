// Routers and switches added to captured replicas, as northd would write them: the northbound
// Logical_Router with its ports (networks) and static routes, and the southbound Datapath_Binding
// (23.03's external_ids name and logical-router / logical-switch) and Port_Binding rows, a router
// port and its switch-side `<switch>-<router>` port joined by patch options:peer. For unit tests of
// what reads a topology beyond the captured one (trace-sessions' route walk).
import type { Replica } from '../../src/ovsdb/replica/replica';
import type { Datum, Uuid } from '../../src/ovsdb/types';

type Replicas = { nb: Replica; sb: Replica };

let next = 0;
const uuid = () => `c0000000-0000-4000-8000-${String(++next).padStart(12, '0')}`;
const ref = (u: string): Uuid => ['uuid', u];
const refs = (us: string[]): Datum => ['set', us.map(ref)];
const map = (o: Record<string, string>): Datum => ['map', Object.entries(o)];

/** The switch's southbound datapath, added when the captured replicas have none of that name. */
function switchDatapath(r: Replicas, name: string): string {
  for (const dp of r.sb.rows('Datapath_Binding')) if ((dp.external_ids as Record<string, string>)?.name === name) return dp._uuid;
  const u = uuid();
  r.sb.applyUpdate2({ Datapath_Binding: { [u]: { insert: { tunnel_key: 200 + next, external_ids: map({ name, 'logical-switch': uuid() }) } } } });
  return u;
}

/** Ports with their MAC and addresses on switch `name` (made if absent). */
export function addSwitch(r: Replicas, name: string, ports: Array<{ name: string; mac: string }>): void {
  const dp = switchDatapath(r, name);
  for (const [i, p] of ports.entries()) {
    r.sb.applyUpdate2({ Port_Binding: { [uuid()]: { insert: { logical_port: p.name, datapath: ref(dp), tunnel_key: 100 + i, type: '', mac: ['set', [p.mac]] } } } });
  }
}

export interface RouterPortSpec {
  name: string;
  networks: string[];
  /** The switch it is patched to (made if absent). */
  on: string;
  /** options:route_table: the table a packet entering by it is routed by. */
  routeTable?: string;
}

export interface StaticRouteSpec {
  prefix: string;
  nexthop: string;
  outputPort?: string;
  routeTable?: string;
}

/** A router with its ports on switches and its static routes (policy dst-ip), in both databases. */
export function addRouter(r: Replicas, name: string, ports: RouterPortSpec[], routes: StaticRouteSpec[] = []): void {
  const lr = uuid();
  const lrps = ports.map((p) => ({ ...p, uuid: uuid() }));
  const srs = routes.map((s) => ({ ...s, uuid: uuid() }));
  r.nb.applyUpdate2({
    Logical_Router_Port: Object.fromEntries(lrps.map((p, i) => [p.uuid, { insert: { name: p.name, mac: `00:00:00:00:f${next % 10}:0${i}`, networks: ['set', p.networks], options: map(p.routeTable ? { route_table: p.routeTable } : {}) } }])),
    Logical_Router_Static_Route: Object.fromEntries(
      srs.map((s) => [s.uuid, { insert: { ip_prefix: s.prefix, nexthop: s.nexthop, output_port: ['set', s.outputPort ? [s.outputPort] : []], route_table: s.routeTable ?? '' } }]),
    ),
  });
  r.nb.applyUpdate2({ Logical_Router: { [lr]: { insert: { name, ports: refs(lrps.map((p) => p.uuid)), static_routes: refs(srs.map((s) => s.uuid)) } } } });
  const dp = uuid();
  r.sb.applyUpdate2({ Datapath_Binding: { [dp]: { insert: { tunnel_key: 200 + next, external_ids: map({ name, 'logical-router': lr }) } } } });
  for (const [i, p] of lrps.entries()) {
    const sw = switchDatapath(r, p.on);
    const swPort = `${p.on}-${name}`;
    r.sb.applyUpdate2({
      Port_Binding: {
        [uuid()]: { insert: { logical_port: p.name, datapath: ref(dp), tunnel_key: i + 1, type: 'patch', mac: ['set', [`00:00:00:00:ff:0${i} ${p.networks.join(' ')}`]], options: map({ peer: swPort }) } },
        [uuid()]: { insert: { logical_port: swPort, datapath: ref(sw), tunnel_key: 50 + i, type: 'patch', mac: ['set', ['router']], options: map({ peer: p.name }) } },
      },
    });
  }
}
