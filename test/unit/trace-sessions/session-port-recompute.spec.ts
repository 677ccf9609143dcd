// When a port session computes its port's reach again (port-target.ts: the interfaces, addresses and
// the route walk outward through the routers). It did so at every bump of the OVN model's generation,
// which every southbound Logical_Flow, MAC_Binding or FDB change makes: on a cluster of 300 nodes the
// walk took ~100 ms here, once per such change for each session, on the path every new datapath
// flow takes. And a northbound route edit bumped nothing: the walk waited for northd's logical flows,
// and an NB update read after them (two connections, no order between them) left it stale. Now it
// follows the model's topology generation: the bindings and datapaths of the southbound, the
// northbound's switch ports, routers, router ports and static routes, the local OVS database. Its
// route walk, though, only when a row the walk reads changed (the model's routingGeneration): every
// pod created or deleted in a big cluster bumps the topology generation, and each made a full walk
// per session. The walks are counted by routeHopsByIngress calls (a router asked). The
// real session service over a migrated SQLite store (test/support/port-sessions.ts); the replicas are the captured sandbox's with a
// router added on public (test/support/router-rows.ts).
import { OvnModel } from '../../../src/ovn/ovn-model';
import * as routes from '../../../src/ovn/router-routes';
import type { Uuid } from '../../../src/ovsdb/types';
import { parseKey, inPort } from '../../../src/ovs/odp-key';
import type { ReplicasService } from '../../../src/replicas/replicas.service';
import { checkRequest } from '../../../src/trace-sessions/session-request';
import { capturedReplicas } from '../../support/captured-model';
import { sessionsOn } from '../../support/port-sessions';
import { addRouter, addSwitch } from '../../support/router-rows';

jest.mock('../../../src/ovn/router-routes', () => {
  const actual = jest.requireActual('../../../src/ovn/router-routes');
  return { ...actual, routeHopsByIngress: jest.fn(actual.routeHopsByIngress) };
});
const asked = routes.routeHopsByIngress as jest.Mock;

describe("a port session's reach, computed again", () => {
  const replicas = capturedReplicas();
  // lrX on public sends 10.0.0.0/24 into its own swX: lsp1's packets do not start there.
  addRouter(replicas, 'lrX', [{ name: 'lrX-public', networks: ['172.16.0.3/24'], on: 'public' }, { name: 'lrX-swX', networks: ['40.0.0.254/24'], on: 'swX' }], [{ prefix: '10.0.0.0/24', nexthop: '40.0.0.1' }]);
  addSwitch(replicas, 'swX', [{ name: 'lspX', mac: '50:54:00:00:04:05 40.0.0.5' }]);
  const model = new OvnModel(replicas);
  let env: Awaited<ReturnType<typeof sessionsOn>>;
  beforeAll(async () => {
    env = await sessionsOn(model, 'hv1', ['lsp1']);
  });
  afterAll(() => env.close());

  const key = parseKey('recirc_id(0),in_port(vif4),eth(src=50:54:00:00:00:04,dst=50:54:00:00:00:01),eth_type(0x0800),ipv4(src=20.0.0.4,dst=10.0.0.1,proto=1,frag=no)');
  /** The session's port target after it looked at a new flow. */
  const target = () => {
    env.svc.select({ inPort: inPort(key) ?? null, flow: { key } }, []);
    return [...env.svc.active.values()][0].port!;
  };

  it("not at northd's logical flow churn: nothing the reach reads changed", () => {
    const before = target();
    expect(before.datapaths!.has('swX')).toBe(false);
    replicas.sb.applyUpdate2({
      Logical_Flow: { 'f0000000-0000-4000-8000-000000000001': { insert: { pipeline: 'ingress', table_id: 0, priority: 0, match: '1', actions: 'next;', external_ids: ['map', []] } } },
    });
    expect(target()).toBe(before);
  });

  const sw0 = () => [...replicas.nb.rows('Logical_Switch')].find((r) => r.name === 'sw0')!;
  const sw0Datapath = () => [...replicas.sb.rows('Datapath_Binding')].find((r) => (r.external_ids as Record<string, string>).name === 'sw0')!;

  it("at a VM port bound on the session's switch, without walking again", () => {
    const before = target();
    const generation = model.topologyGeneration;
    asked.mockClear();
    const lsp = 'f0000000-0000-4000-8000-00000000a001';
    const ports = ([] as unknown[]).concat((sw0().ports as unknown[]) ?? []).map((u): Uuid => ['uuid', String(u)]);
    replicas.nb.applyUpdate2({ Logical_Switch_Port: { [lsp]: { insert: { name: 'pod-new', addresses: ['set', ['0a:58:0a:00:00:63 10.0.0.99']] } } } });
    replicas.nb.applyUpdate2({ Logical_Switch: { [sw0()._uuid]: { modify: { ports: ['set', [...ports, ['uuid', lsp]]] } } } });
    replicas.sb.applyUpdate2({
      Port_Binding: { 'f0000000-0000-4000-8000-00000000a002': { insert: { logical_port: 'pod-new', datapath: ['uuid', sw0Datapath()._uuid], tunnel_key: 99, type: '', mac: ['set', ['0a:58:0a:00:00:63 10.0.0.99']] } } },
    });
    expect(model.topologyGeneration).toBeGreaterThan(generation);
    const after = target();
    expect(after).not.toBe(before);
    expect([...after.datapaths!].sort()).toEqual([...before.datapaths!].sort());
    expect(asked).not.toHaveBeenCalled();
  });

  it('at a northbound route edit, before any southbound change', () => {
    asked.mockClear();
    const lrX = [...replicas.nb.rows('Logical_Router')].find((r) => r.name === 'lrX')!;
    const route = 'f0000000-0000-4000-8000-000000000002';
    // lrX now sends lsp1's own address to lr0's address on public.
    replicas.nb.applyUpdate2({ Logical_Router_Static_Route: { [route]: { insert: { ip_prefix: '10.0.0.1/32', nexthop: '172.16.0.254', route_table: '' } } } });
    replicas.nb.applyUpdate2({ Logical_Router: { [lrX._uuid]: { modify: { static_routes: ['set', [['uuid', route]]] } } } });
    expect(target().datapaths!.has('swX')).toBe(true);
    expect(asked).toHaveBeenCalled();
  });

  it('at a router added: the session reaches the switch behind it', () => {
    asked.mockClear();
    // lrY on public routes lsp1's network to lr0's address there: swY is where a packet to lsp1 starts too.
    addRouter(replicas, 'lrY', [{ name: 'lrY-public', networks: ['172.16.0.4/24'], on: 'public' }, { name: 'lrY-swY', networks: ['41.0.0.254/24'], on: 'swY' }], [{ prefix: '10.0.0.0/24', nexthop: '172.16.0.254' }]);
    expect(target().datapaths!.has('swY')).toBe(true);
    expect(asked).toHaveBeenCalled();
  });

  // POST /trace-sessions asks only whether the port has a southbound binding: it walked the routes
  // of a port target it then threw away, a full walk per request on a big cluster.
  it("not at a session's create: the port is looked up, not walked from", async () => {
    asked.mockClear();
    const ask = (logicalPort: string) => checkRequest({ bridge: 'br-int', logicalPort }, { replicas: replicas as unknown as ReplicasService, here: false, chassis: () => 'api' });
    await expect(ask('lsp1')).resolves.toEqual([]);
    const refused = await ask('no-such-port').catch((e: { getResponse(): unknown }) => e.getResponse());
    expect(refused).toMatchObject({ statusCode: 404, field: 'logicalPort', message: 'no logical port named "no-such-port" in the southbound database' });
    expect(asked).not.toHaveBeenCalled();
  });
});
