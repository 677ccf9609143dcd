// The OVN model over the NB/SB captured on every supported OVS/OVN pair (test/fixtures/captured/
// <version>/), configured with the schemas those servers ran. The topology is the same on every
// pair (scripts/capture-fixtures); what differs between OVN releases is listed per version below,
// so a new capture without its row fails here instead of being checked against another release.
import type { Replica } from '../../../src/ovsdb/replica/replica';
import { OvnModel } from '../../../src/ovn/ovn-model';
import { capturedReplicas, VERSIONS } from '../../support/captured-model';

interface VersionFacts {
  /** Datapath_Binding has the `type` and `nb_uuid` columns (26.03 has them, 25.03 not), else they are skipped. */
  readonly datapathTypeColumn: boolean;
  /** Stages of the logical flows that carry the stage-hint of the to-lport drop ACL (ACL tiers: OVN ≥ 23.09). */
  readonly dropAclStages: readonly string[];
}

const FACTS: Record<string, VersionFacts> = {
  'ovs-3.1.0_ovn-23.03.1': { datapathTypeColumn: false, dropAclStages: ['ls_out_acl'] },
  'ovs-3.5.0_ovn-25.03.0': { datapathTypeColumn: false, dropAclStages: ['ls_out_acl_eval'] },
  'ovs-4.0.0_ovn-26.03.1': { datapathTypeColumn: true, dropAclStages: ['ls_out_acl_eval'] },
};

function rows(r: Replica, table: string) {
  return [...r.rows(table)];
}

describe.each(VERSIONS)('OvnModel over the NB/SB captured on %s', (version) => {
  const facts = FACTS[version];
  const reps = capturedReplicas(undefined, version);
  const model = new OvnModel(reps);

  it('has its version-specific expectations listed', () => {
    expect(facts).toBeDefined();
  });

  it('knows every datapath of the topology by tunnel key, switches and the router apart', () => {
    const kinds = Object.fromEntries(rows(reps.sb, 'Datapath_Binding').map((r) => {
      const dp = model.datapathByKey(Number(r.tunnel_key))!;
      return [dp.name, dp.kind];
    }));
    expect(kinds).toEqual({ sw0: 'switch', sw1: 'switch', public: 'switch', lr0: 'router' });
    for (const r of rows(reps.sb, 'Datapath_Binding')) expect(model.datapathByKey(Number(r.tunnel_key))!.nbUuid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reads the Datapath_Binding columns its schema has, and skips the others', () => {
    if (facts.datapathTypeColumn) expect(reps.sb.skipped).not.toEqual(expect.arrayContaining(['Datapath_Binding.type']));
    else expect(reps.sb.skipped).toEqual(expect.arrayContaining(['Datapath_Binding.type', 'Datapath_Binding.nb_uuid']));
  });

  it('maps the VIF ports to their switch, chassis and local interface', () => {
    const where = ['lsp1', 'lsp2', 'lsp3', 'lsp4'].map((p) => {
      const ref = model.portByName(p)!;
      expect(model.portByKeys(ref.datapath!.tunnelKey, ref.tunnelKey)?.logicalPort).toBe(p);
      return `${p}@${ref.datapath?.name}/${ref.chassis}`;
    });
    expect(where).toEqual(['lsp1@sw0/hv1', 'lsp2@sw0/hv1', 'lsp3@sw0/hv1', 'lsp4@sw1/hv1']);
    expect(model.interfaceByName('vif4')).toMatchObject({ ofport: 4, ifaceId: 'lsp4' });
  });

  it('resolves every logical flow from its cookie, with its stage name', () => {
    const flows = rows(reps.sb, 'Logical_Flow');
    expect(flows.length).toBeGreaterThan(300);
    const missing = flows.filter((f) => !model.owners('0x' + f._uuid.slice(0, 8)).owners.some((o) => o.uuid === f._uuid));
    expect(missing.map((f) => f._uuid)).toEqual([]);
    const unstaged = flows.filter((f) => !model.owners('0x' + f._uuid.slice(0, 8)).owners.find((o) => o.uuid === f._uuid)!.logicalFlow!.stage);
    expect(unstaged.length).toBe(0);
  });

  it('finds the drop ACL as the hint of the logical flows of its stage(s)', () => {
    const acl = rows(reps.nb, 'ACL').find((a) => a.action === 'drop' && Number(a.priority) === 2000)!;
    expect(acl).toBeDefined();
    const hinted = rows(reps.sb, 'Logical_Flow')
      .map((f) => model.owners('0x' + f._uuid.slice(0, 8)))
      .filter((o) => o.hint?.uuid === acl._uuid);
    expect([...new Set(hinted.map((o) => o.owners[0].logicalFlow!.stage))].sort()).toEqual(facts.dropAclStages);
    for (const o of hinted) expect(o.hint!.summary).toBe('ACL: to-lport, priority=2000, match=(outport == "lsp3" && tcp && tcp.dst == 22), drop');
  });
});
