// A port session's reach walk (port-target.ts) on an ovn-kubernetes-shaped cluster of 300 nodes: the
// cluster router with a port on each node's switch and one on the join switch, and a gateway router
// per node on the join switch and its own external switch, routing the pod network to the cluster
// router (100.64.0.1). A pod's packets start on every node switch (the cluster router's ingress
// ports all route its /24 to its switch), on the join switch (a gateway router hands it on to
// 100.64.0.1, the cluster router's port there) and on every external switch (each gateway router's
// outside port routes it to the join switch): one walk through 300 routers on one switch, each asked
// once, not each time another of them starts to count. A pod bound on another node then recomputes
// the session's target without walking again (ReachWalks by the model's routingGeneration). The
// times are logged, not asserted.
import { capturedReplicas } from '../../support/captured-model';
import { portTarget, ReachWalks } from '../../../src/trace-sessions/port-target';
import { OvnModel } from '../../../src/ovn/ovn-model';
import type { ReplicasService } from '../../../src/replicas/replicas.service';
import { addRouter, addSwitch } from '../../support/router-rows';

const NODES = 300;
/** Node i's pod subnet, 10.<1 + i / 256>.<i % 256>.0/24, inside the cluster network 10.0.0.0/8. */
const podNet = (i: number) => `10.${1 + (i >> 8)}.${i & 255}`;
const joinIp = (i: number) => `100.64.${(i + 2) >> 8}.${(i + 2) & 255}`;

describe('a port session on a 300-node ovn-kubernetes-shaped cluster', () => {
  const replicas = capturedReplicas();
  for (let i = 0; i < NODES; i++) addSwitch(replicas, `node${i}`, i === 5 ? [{ name: 'pod5', mac: `0a:58:0a:01:05:0a ${podNet(5)}.10` }] : []);
  addRouter(replicas, 'ovn_cluster_router', [
    ...Array.from({ length: NODES }, (_, i) => ({ name: `rtos-node${i}`, networks: [`${podNet(i)}.1/24`], on: `node${i}` })),
    { name: 'rtoj-ovn_cluster_router', networks: ['100.64.0.1/16'], on: 'join' },
  ]);
  for (let i = 0; i < NODES; i++)
    addRouter(
      replicas,
      `GR_node${i}`,
      [
        { name: `rtoj-GR_node${i}`, networks: [`${joinIp(i)}/16`], on: 'join' },
        { name: `rtoe-GR_node${i}`, networks: [`172.18.${(i >> 8) + 1}.${(i & 255) + 2}/16`], on: `ext_node${i}` },
      ],
      [
        { prefix: '10.0.0.0/8', nexthop: '100.64.0.1' },
        { prefix: '0.0.0.0/0', nexthop: '172.18.0.1' },
      ],
    );

  it('reaches every node switch, the join switch, every gateway router and its external switch', () => {
    const t0 = performance.now();
    const reached = portTarget(replicas as unknown as ReplicasService, 'pod5')!.datapaths!;
    console.log(`reach walk over ${NODES} nodes: ${reached.size} datapaths in ${(performance.now() - t0).toFixed(0)} ms`);
    const expected = ['ovn_cluster_router', 'join', ...Array.from({ length: NODES }, (_, i) => [`node${i}`, `GR_node${i}`, `ext_node${i}`]).flat()];
    expect([...reached].sort()).toEqual(expected.sort());
  });

  it("walks nothing again when a pod is bound on another node's switch", () => {
    const model = new OvnModel(replicas);
    const walks = new ReachWalks(() => model.routingGeneration);
    const first = portTarget(replicas as unknown as ReplicasService, 'pod5', undefined, walks)!.datapaths!;
    const topology = model.topologyGeneration;
    addSwitch(replicas, 'node7', [{ name: 'pod7', mac: `0a:58:0a:01:07:0a ${podNet(7)}.10` }]);
    expect(model.topologyGeneration).toBeGreaterThan(topology);
    const t0 = performance.now();
    const again = portTarget(replicas as unknown as ReplicasService, 'pod5', undefined, walks)!.datapaths!;
    console.log(`port target after a pod bound on ${NODES} nodes: ${(performance.now() - t0).toFixed(1)} ms`);
    expect(again).toBe(first);
    model.dispose();
  });
});
