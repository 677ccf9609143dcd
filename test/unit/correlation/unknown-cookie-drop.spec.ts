// A drop whose deciding rule's cookie no southbound row owns: the replica has not yet seen the
// logical flow ovn-controller installed (or it was deleted before the trace and its tombstone is
// gone). The verdict must say who dropped is unknown, never name the last logical flow that ran
// nor call the rule one of ovn-controller's own. Real traces of every pair's ACL drop, read against
// the pair's real southbound dump without the logical flow(s) owning the pipeline's last cookie.
import { annotatePass } from '../../../src/correlation/annotate';
import type { OvnModel } from '../../../src/ovn/ovn-model';
import { dpifOf, fixtureModel, fixtureModelWithLogicalFlows, packetFlows, VERDICT_VERSIONS } from '../../support/verdict-fixtures';

/** The pair's model with every Logical_Flow whose UUID starts with `prefix` left out of the southbound dump. */
function modelWithout(version: string, prefix: string): OvnModel {
  return fixtureModelWithLogicalFlows(version, (t) => {
    const at = t.headings.indexOf('_uuid');
    t.data = t.data.filter((r) => !(r[at] as [string, string])[1].startsWith(prefix));
  });
}

describe.each(VERDICT_VERSIONS)('%s', (version) => {
  it('acl-drop: the deciding logical flow unknown to the replica → an unknown dropper, no other flow named', () => {
    const drop = packetFlows(version, 'acl-drop').find((f) => f.actions === 'drop')!;
    const known = annotatePass(drop.pass, fixtureModel(version), { dpif: dpifOf(version, 'acl-drop') });
    const last = [...known.steps].reverse().find((s) => s.outcome === 'match')!;
    expect(last.owners[0]?.logicalFlow).toBeDefined();
    const t = annotatePass(drop.pass, modelWithout(version, last.cookie!.slice(2)), { dpif: dpifOf(version, 'acl-drop') });
    expect(t.verdict).toMatchObject({ kind: 'drop', dropBy: { stepSeq: last.seq, logicalFlowUuid: null, hint: null, stage: null } });
    expect(t.verdict.reason).toContain(`cookie ${last.cookie}`);
    expect(t.verdict.reason).toMatch(/owned by no southbound row \(a logical flow newer than the replica/);
  });
});
