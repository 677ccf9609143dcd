// The OVN model over replicas loaded from the captured dumps, then changed the way monitor
// updates change them: collisions, tombstones, datapath groups, both Datapath_Binding schemas,
// and caches that follow the replicas.
import { OvnModel } from '../../../src/ovn/ovn-model';
import type { Row } from '../../../src/ovsdb/types';
import { capturedReplicas } from '../../support/captured-model';

const ACL_DROP_FLOW = '66c1233a-1dad-4e60-a752-70c24b935699'; // ls_out_acl drop, stage-hint dc3daa84 (ACL)
const SW0 = '0e73d171-8b00-4ddf-b3d9-a8eb2390c173';

function lflowRow(dp: string, actions = 'next;'): Row {
  return {
    logical_datapath: ['uuid', dp],
    pipeline: 'ingress',
    table_id: 3,
    priority: 77,
    match: 'ip4',
    actions,
    external_ids: ['map', [['stage-name', 'ls_in_put_fdb'], ['source', 'northd.c:1']]],
  } as unknown as Row;
}

describe('OvnModel', () => {
  it('gives a cookie wider than 32 bits no owner, even when its low 32 bits are a live flow (ovn-detrace does the same)', () => {
    const model = new OvnModel(capturedReplicas());
    expect(model.owners('0x66c1233a').owners).toHaveLength(1);
    const wide = model.owners('0x166c1233a');
    expect(wide.owners).toEqual([]);
    expect(wide.hint).toBeNull();
  });

  it('resolves a logical flow with its datapath, stage and ACL hint', () => {
    const model = new OvnModel(capturedReplicas());
    const r = model.owners('0x66c1233a');
    expect(r.collision).toBe(false);
    expect(r.owners).toHaveLength(1);
    const lf = r.owners[0].logicalFlow!;
    expect(lf).toMatchObject({ uuid: ACL_DROP_FLOW, pipeline: 'egress', stage: 'ls_out_acl', tableId: 4, priority: 3000, actions: '/* drop */', stageHint: 'dc3daa84' });
    expect(lf.datapaths).toEqual([{ uuid: SW0, tunnelKey: 3, name: 'sw0', kind: 'switch', nbUuid: '18d41f4e-523c-40ce-9033-b98f082aaae5' }]);
    expect(r.hint).toMatchObject({ table: 'ACL', summary: 'ACL: to-lport, priority=2000, match=(outport == "lsp3" && tcp && tcp.dst == 22), drop' });
    expect(r.hint!.uuid.startsWith('dc3daa84')).toBe(true);
  });

  it('expands datapath groups, ordered by Datapath_Binding UUID as ovn-detrace lists them', () => {
    const { nb, sb, ovs } = capturedReplicas();
    const flow = [...sb.rows('Logical_Flow')].find((f) => f.logical_dp_group.toString() === '3b9b3f4c-2903-4338-830d-4e649cd29217')!;
    const lf = new OvnModel({ nb, sb, ovs }).owners('0x' + flow._uuid.slice(0, 8)).owners[0].logicalFlow!;
    expect(lf.datapaths.map((d) => d.name)).toEqual(['sw0', 'public', 'sw1']);
    expect(lf.datapaths.map((d) => d.tunnelKey)).toEqual([3, 2, 1]);
  });

  it('returns every owner of a colliding prefix, across tables, never one', () => {
    const reps = capturedReplicas();
    const model = new OvnModel(reps);
    const before = model.owners('0x66c1233a');
    reps.sb.applyUpdate2({
      Logical_Flow: { '66c1233a-0000-4000-8000-000000000001': { insert: lflowRow(SW0) } },
      FDB: { '66c1233a-0000-4000-8000-000000000002': { insert: { mac: '50:54:00:00:00:09', dp_key: 3, port_key: 1 } } },
    });
    const after = model.owners('0x66c1233a');
    expect(before.collision).toBe(false);
    expect(after.collision).toBe(true);
    expect(after.owners.map((o) => [o.table, o.uuid])).toEqual([
      ['Logical_Flow', '66c1233a-0000-4000-8000-000000000001'],
      ['Logical_Flow', ACL_DROP_FLOW],
      ['FDB', '66c1233a-0000-4000-8000-000000000002'],
    ]);
    expect(after.owners[2]).toMatchObject({ summary: 'FDB: mac "50:54:00:00:00:09", dp_key 3, port_key 1', datapath: { name: 'sw0' } });
  });

  it('keeps a deleted logical flow as a stale owner, as it was, until the tombstone expires', () => {
    const reps = capturedReplicas();
    let now = 1_000_000;
    reps.sb.now = () => now;
    reps.sb.tombstoneTtlMs = 60_000;
    const model = new OvnModel(reps);
    const live = model.owners('0x66c1233a').owners[0];
    reps.sb.applyUpdate2({ Logical_Flow: { [ACL_DROP_FLOW]: { delete: null } } });
    const stale = model.owners('0x66c1233a').owners[0];
    expect(stale).toMatchObject({ table: 'Logical_Flow', uuid: ACL_DROP_FLOW, stale: true });
    expect(stale.logicalFlow!.contentHash).toBe(live.logicalFlow!.contentHash);
    now += 61_000;
    expect(model.owners('0x66c1233a').owners).toEqual([]);
  });

  it('follows modifications: a changed logical flow gets a new content hash, a changed ACL a new hint', () => {
    const reps = capturedReplicas();
    const model = new OvnModel(reps);
    const first = model.owners('0x66c1233a');
    reps.sb.applyUpdate2({ Logical_Flow: { [ACL_DROP_FLOW]: { modify: { priority: 3001 } } } });
    const second = model.owners('0x66c1233a');
    expect(second.owners[0].logicalFlow!.priority).toBe(3001);
    expect(second.owners[0].logicalFlow!.contentHash).not.toBe(first.owners[0].logicalFlow!.contentHash);
    const acl = first.hint!.uuid;
    reps.nb.applyUpdate2({ ACL: { [acl]: { modify: { priority: 2100 } } } });
    expect(model.owners('0x66c1233a').hint!.summary).toContain('priority=2100');
  });

  it('maps keys and names: datapath, (datapath, port) keys, OVS interfaces', () => {
    const model = new OvnModel(capturedReplicas());
    expect(model.datapathByKey(4)).toMatchObject({ name: 'lr0', kind: 'router', nbUuid: '8af69623-2a1f-4e47-8deb-4ba57293990f' });
    expect(model.datapathByKey(99)).toBeNull();
    expect(model.portByKeys(3, 1)).toMatchObject({ logicalPort: 'lsp1', chassis: 'hv1', datapath: { name: 'sw0' } });
    expect(model.interfaceByName('vif2')).toMatchObject({ ofport: 2, bridge: 'br-int', ifaceId: 'lsp2' });
    expect(model.interfaceByOfport(3)?.ifaceId).toBe('lsp3');
    expect(model.chassisByIp('127.0.0.1')).toBe('hv1');
  });

  it('reads the newer Datapath_Binding columns (type, nb_uuid) when the schema has them', () => {
    const reps = capturedReplicas('ovn-sb-newer.ovsschema');
    const model = new OvnModel(reps);
    // Still the external_ids form until the columns are filled.
    expect(model.datapathByKey(3)).toMatchObject({ name: 'sw0', kind: 'switch' });
    reps.sb.applyUpdate2({
      Datapath_Binding: { [SW0]: { modify: { type: 'logical-router', nb_uuid: ['uuid', 'aaaaaaaa-0000-4000-8000-000000000001'], external_ids: ['map', [['logical-switch', '18d41f4e-523c-40ce-9033-b98f082aaae5']]] } } },
    });
    expect(model.datapathByKey(3)).toEqual({ uuid: SW0, tunnelKey: 3, name: 'sw0', kind: 'router', nbUuid: 'aaaaaaaa-0000-4000-8000-000000000001' });
  });

  it('does without the newer columns on a 23.03 schema (skipped, not an error)', () => {
    const reps = capturedReplicas();
    expect(reps.sb.skipped).toEqual(expect.arrayContaining(['Datapath_Binding.type', 'Datapath_Binding.nb_uuid']));
    expect(new OvnModel(reps).datapathByKey(2)).toMatchObject({ name: 'public', kind: 'switch', nbUuid: 'c170fc29-38ec-406e-927b-7905cb042911' });
  });

  it('stops listening when disposed', () => {
    const reps = capturedReplicas();
    const model = new OvnModel(reps);
    model.dispose();
    expect(reps.sb.listenerCount('change')).toBe(0);
  });

  it("bumps routingGeneration at the rows a port session's route walk reads, not at a VM port's", () => {
    const replicas = capturedReplicas();
    const model = new OvnModel(replicas);
    const bumps = (fn: () => void): boolean => {
      const [routing, topology] = [model.routingGeneration, model.topologyGeneration];
      fn();
      expect(model.topologyGeneration).toBeGreaterThan(topology);
      return model.routingGeneration > routing;
    };
    const vif = 'f0000000-0000-4000-8000-00000000b001';
    expect(bumps(() => replicas.sb.applyUpdate2({ Port_Binding: { [vif]: { insert: { logical_port: 'pod-b', datapath: ['uuid', SW0], tunnel_key: 98, type: '' } } } }))).toBe(false);
    expect(bumps(() => replicas.nb.applyUpdate2({ Logical_Switch_Port: { 'f0000000-0000-4000-8000-00000000b002': { insert: { name: 'pod-b' } } } }))).toBe(false);
    // A binding that becomes a link, and one that stops being one (its peer gone).
    expect(bumps(() => replicas.sb.applyUpdate2({ Port_Binding: { [vif]: { modify: { type: 'patch', options: ['map', [['peer', 'lr0-sw0']]] } } } }))).toBe(true);
    // (update2's modify of a map toggles the pairs it names: the peer goes.)
    expect(bumps(() => replicas.sb.applyUpdate2({ Port_Binding: { [vif]: { modify: { type: '', options: ['map', [['peer', 'lr0-sw0']]] } } } }))).toBe(true);
    expect(replicas.sb.get('Port_Binding', vif)).toMatchObject({ type: '', options: {} });
    const patch = [...replicas.sb.rows('Port_Binding')].find((r) => r.type === 'patch' && r._uuid !== vif)!;
    expect(bumps(() => replicas.sb.applyUpdate2({ Port_Binding: { [patch._uuid]: { delete: null } } }))).toBe(true);
    expect(bumps(() => replicas.sb.applyUpdate2({ Datapath_Binding: { [SW0]: { modify: { external_ids: ['map', [['name', 'sw0-renamed']]] } } } }))).toBe(true);
    expect(bumps(() => replicas.nb.applyUpdate2({ Logical_Router_Static_Route: { 'f0000000-0000-4000-8000-00000000b003': { insert: { ip_prefix: '10.9.0.0/16', nexthop: '172.16.0.1' } } } }))).toBe(true);
  });
});
