// A physical-table rule (ovn-controller's loopback check, its cookie the prefix of lsp1's
// Port_Binding) whose cookie a logical flow also owns: southbound UUIDs of different tables share
// the 32-bit prefix as often as two logical flows do (at 100k rows a collision somewhere is more
// likely than not). The step lists both owners (collision), but a logical flow that cannot have
// made the rule (another priority, another datapath than the rule's metadata; ovn-controller gives
// a logical flow's rules its priority and metadata) must not become the drop's logical flow. Real
// hairpin traces of every pair, read against the pair's real southbound dump plus one logical flow
// that drops, given a UUID with lsp1's Port_Binding prefix. Collisions cannot be made on demand with
// real daemons (northd picks the UUIDs).
import { annotatePass } from '../../../src/correlation/annotate';
import type { OvnModel } from '../../../src/ovn/ovn-model';
import { dpifOf, fixtureModel, fixtureModelWithLogicalFlows, packetFlows, VERDICT_VERSIONS } from '../../support/verdict-fixtures';

/** The pair's model plus a copy of the first logical flow that drops at another priority than `not`, under UUID `uuid`. */
function modelWithDroppingTwin(version: string, uuid: string, not: number): OvnModel {
  return fixtureModelWithLogicalFlows(version, (t) => {
    const col = (n: string) => t.headings.indexOf(n);
    const row = structuredClone(t.data.find((r) => r[col('priority')] !== not && /(^|[;\s])drop;/.test(String(r[col('actions')])))!);
    row[col('_uuid')] = ['uuid', uuid];
    t.data.push(row);
  });
}

describe.each(VERDICT_VERSIONS)('%s', (version) => {
  it('hairpin: the loopback rule whose cookie a logical flow shares is still a drop by no logical flow', () => {
    const dpif = dpifOf(version, 'hairpin');
    const alone = packetFlows(version, 'hairpin')
      .map((f) => ({ f, t: annotatePass(f.pass, fixtureModel(version), { dpif }) }))
      .find(({ t }) => t.verdict.dropBy?.rule)!;
    const seq = alone.t.verdict.dropBy!.stepSeq;
    const pb = alone.t.steps[seq].owners[0];
    expect(pb).toMatchObject({ table: 'Port_Binding', name: 'lsp1' });
    const twin = `${pb.uuid.slice(0, 8)}-ffff-4fff-8fff-ffffffffffff`;

    const t = annotatePass(alone.f.pass, modelWithDroppingTwin(version, twin, alone.t.steps[seq].priority!), { dpif });
    const step = t.steps[seq];
    expect(step).toMatchObject({ collision: true });
    expect(step.owners.map((o) => o.uuid).sort()).toEqual([pb.uuid, twin].sort());
    expect(t.verdict).toMatchObject({ kind: 'drop', dropBy: { logicalFlowUuid: null, hint: null, stage: null, rule: { table: step.table, owner: 'Port_Binding lsp1' } } });
    expect(t.verdict.reason).toMatch(/logical outport is the inport/);
  });
});
