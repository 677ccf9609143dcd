// Two southbound logical flows whose UUIDs share the first 32 bits share an OpenFlow cookie
// (ovn-controller's cookie is that prefix). The step lists both (collision), but the verdict must
// name the one that matched: same priority as the OpenFlow rule, on the datapath of its metadata,
// and the northbound row of that one's stage-hint. Real ACL-drop traces of every pair, read against
// the pair's real southbound dump plus one flow whose UUID collides with the deciding flow's (sorted
// first) on another priority, hinting at the allow ACL. Collisions cannot be made on demand with
// real daemons (northd picks the UUIDs); at 500k logical flows about 29 pairs collide.
import { annotatePass } from '../../../src/correlation/annotate';
import type { OvnModel } from '../../../src/ovn/ovn-model';
import { dpifOf, fixtureModel, fixtureModelWithLogicalFlows, packetFlows, topology, VERDICT_VERSIONS } from '../../support/verdict-fixtures';

/** The pair's model plus a copy of Logical_Flow `uuid` as `twin`, with another priority and stage-hint. */
function modelWithTwin(version: string, uuid: string, twin: string, hint: string): OvnModel {
  return fixtureModelWithLogicalFlows(version, (t) => {
    const col = (n: string) => t.headings.indexOf(n);
    const row = structuredClone(t.data.find((r) => (r[col('_uuid')] as [string, string])[1] === uuid)!);
    row[col('_uuid')] = ['uuid', twin];
    row[col('priority')] = (row[col('priority')] as number) + 7;
    const ids = row[col('external_ids')] as ['map', Array<[string, string]>];
    ids[1] = ids[1].map(([k, v]) => [k, k === 'stage-hint' ? hint.slice(0, 8) : v]);
    t.data.push(row);
  });
}

describe.each(VERDICT_VERSIONS)('%s', (version) => {
  it('acl-drop: a cookie shared by two logical flows → the verdict names the one that matched, and its ACL', () => {
    const topo = topology(version);
    const drop = packetFlows(version, 'acl-drop').find((f) => f.actions === 'drop')!;
    const dpif = dpifOf(version, 'acl-drop');
    const by = annotatePass(drop.pass, fixtureModel(version), { dpif }).verdict.dropBy!;
    const real = by.logicalFlowUuid!;
    const twin = `${real.slice(0, 8)}-0000-0000-0000-000000000000`;
    expect(twin < real).toBe(true);
    const t = annotatePass(drop.pass, modelWithTwin(version, real, twin, topo.allowAcl), { dpif });
    const step = t.steps[t.verdict.dropBy!.stepSeq];
    expect(step).toMatchObject({ collision: true });
    expect(step.owners.map((o) => o.uuid).sort()).toEqual([twin, real]);
    expect(t.verdict.dropBy).toMatchObject({ logicalFlowUuid: real, hint: { table: 'ACL', uuid: topo.dropAcl } });
    expect(step.hint).toMatchObject({ uuid: topo.dropAcl });
  });
});
