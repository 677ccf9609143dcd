// After a long series of real ovn-nbctl changes (and ovn-northd's southbound churn that follows),
// every replicated table equals `ovsdb-client dump` of the server, cell by cell.
import { isDeepStrictEqual } from 'node:util';
import { ReplicaFollower } from '../../../src/ovsdb/replica/follower';
import { Replica, ReplicaSpec } from '../../../src/ovsdb/replica/replica';
import { NORTHBOUND, OPEN_VSWITCH, SOUTHBOUND } from '../../../src/replicas/ovn-tables';
import { dumpTable, replicaTable } from '../../support/ovsdb-dump';
import { pairFile, Sandbox } from '../../support/sandbox';
import { waitFor } from '../../support/wait';

jest.setTimeout(180_000);

const DBS = [
  { name: 'OVN_Northbound', spec: NORTHBOUND, env: 'OVN_NB_DB', schema: pairFile('/usr/share/ovn/ovn-nb.ovsschema') },
  { name: 'OVN_Southbound', spec: SOUTHBOUND, env: 'OVN_SB_DB', schema: pairFile('/usr/share/ovn/ovn-sb.ovsschema') },
  { name: 'Open_vSwitch', spec: OPEN_VSWITCH, env: 'OVS_DB', schema: pairFile('/usr/share/openvswitch/vswitch.ovsschema') },
] as const;

async function differences(f: ReplicaFollower, remote: string, schema: string, spec: ReplicaSpec): Promise<string[]> {
  const out: string[] = [];
  for (const table of f.replica.tableNames) {
    const columns = spec[table].columns.filter((c) => f.replica.hasColumn(table, c));
    const server = await dumpTable(remote, f.replica.database, schema, table, columns);
    const mine = replicaTable(f.replica.rows(table) as Iterable<Record<string, unknown>>, columns);
    for (const uuid of new Set([...Object.keys(server), ...Object.keys(mine)])) {
      if (!mine[uuid]) out.push(`${table} ${uuid}: missing from the replica`);
      else if (!server[uuid]) out.push(`${table} ${uuid}: deleted on the server, still in the replica`);
      else
        for (const c of columns)
          if (!isDeepStrictEqual(mine[uuid][c], server[uuid][c]))
            out.push(`${table} ${uuid} ${c}: replica ${JSON.stringify(mine[uuid][c])} != server ${JSON.stringify(server[uuid][c])}`);
    }
  }
  return out;
}

describe('replicas equal the servers after real churn', () => {
  let sb: Sandbox;
  const followers: ReplicaFollower[] = [];

  beforeAll(async () => {
    sb = await Sandbox.start();
    for (const d of DBS) {
      const f = new ReplicaFollower(new Replica(d.name, d.spec), { remotes: sb.env[d.env] });
      followers.push(f.start());
    }
    await Promise.all(followers.map((f) => f.waitSynced()));
  });

  afterAll(async () => {
    followers.forEach((f) => f.close());
    await sb?.stop();
  });

  async function expectAllEqual(): Promise<void> {
    await sb.nbctl('--wait=hv', 'sync');
    for (const [i, d] of DBS.entries()) {
      let last: string[] = [];
      await waitFor(`${d.name} replica to equal the server`, async () => {
        last = await differences(followers[i], sb.env[d.env], d.schema, d.spec);
        return last.length === 0;
      }, 20_000).catch(() => {
        throw new Error(`${d.name} differs from the server:\n${last.slice(0, 20).join('\n')}`);
      });
    }
  }

  it('after creates, set and map edits, port groups, ACLs, a router with NAT, load balancers', async () => {
    await sb.demoTopology();
    await sb.nbctl('ls-add', 'sw1', '--', 'lsp-add', 'sw1', 'lsp4', '--', 'lsp-set-addresses', 'lsp4', '50:54:00:00:00:04 10.0.1.4 fd01::4');
    await sb.nbctl('lsp-set-port-security', 'lsp1', '50:54:00:00:00:01 10.0.0.1');
    await sb.nbctl('set', 'Logical_Switch_Port', 'lsp1', 'external_ids:owner=alice', 'external_ids:tier=web', 'options:requested-chassis=hv1');
    await sb.nbctl('pg-add', 'pg_web', 'lsp1', 'lsp2');
    await sb.nbctl('acl-add', 'pg_web', 'to-lport', '1010', 'outport == @pg_web && tcp.dst == 80', 'allow-related');
    await sb.nbctl('lr-add', 'lr0', '--', 'lrp-add', 'lr0', 'lrp-sw0', '00:00:00:00:ff:01', '10.0.0.254/24', 'fd00::fe/64');
    await sb.nbctl('lsp-add', 'sw0', 'sw0-lr0', '--', 'lsp-set-type', 'sw0-lr0', 'router', '--', 'lsp-set-addresses', 'sw0-lr0', 'router', '--', 'lsp-set-options', 'sw0-lr0', 'router-port=lrp-sw0');
    await sb.nbctl('lrp-add', 'lr0', 'lrp-ext', '00:00:00:00:ff:02', '172.16.0.1/24', '--', 'lrp-set-gateway-chassis', 'lrp-ext', 'hv1', '10');
    await sb.nbctl('lr-nat-add', 'lr0', 'snat', '172.16.0.1', '10.0.0.0/24');
    await sb.nbctl('lr-nat-add', 'lr0', 'dnat_and_snat', '172.16.0.10', '10.0.0.2');
    await sb.nbctl('lb-add', 'lb0', '10.0.0.100:80', '10.0.0.2:8080,10.0.0.3:8080', 'tcp', '--', 'ls-lb-add', 'sw0', 'lb0');
    await sb.nbctl('lr-route-add', 'lr0', '0.0.0.0/0', '172.16.0.254');
    await sb.nbctl('lr-policy-add', 'lr0', '100', 'ip4.src == 10.0.0.3', 'drop');
    await expectAllEqual();
  });

  it('after map keys changed and removed, set elements removed, rows deleted', async () => {
    await sb.nbctl('set', 'Logical_Switch_Port', 'lsp1', 'external_ids:owner=bob');
    await sb.nbctl('remove', 'Logical_Switch_Port', 'lsp1', 'external_ids', 'tier');
    await sb.nbctl('lsp-set-addresses', 'lsp4', '50:54:00:00:00:04 10.0.1.4');
    await sb.nbctl('pg-set-ports', 'pg_web', 'lsp2');
    await sb.nbctl('lb-del', 'lb0');
    await sb.nbctl('lr-nat-del', 'lr0', 'dnat_and_snat', '172.16.0.10');
    await sb.nbctl('lsp-del', 'lsp3');
    await sb.nbctl('ls-del', 'sw1');
    await sb.vsctl('set', 'interface', 'vif2', 'external_ids:iface-id=lsp2', 'external_ids:attached-mac=50:54:00:00:00:02');
    await expectAllEqual();
  });

  it('after 30 rounds of ports added and removed while northd churns', async () => {
    for (let i = 0; i < 30; i++) {
      await sb.nbctl('lsp-add', 'sw0', `tmp${i}`, '--', 'lsp-set-addresses', `tmp${i}`, `50:54:00:00:01:${(i + 16).toString(16)} 10.0.0.${100 + i}`);
      if (i >= 3) await sb.nbctl('lsp-del', `tmp${i - 3}`);
    }
    await expectAllEqual();
    expect(followers.every((f) => f.getStatus().fullDumps === 1)).toBe(true);
  });
});
