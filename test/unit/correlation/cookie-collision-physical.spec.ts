// A physical-table rule (ovn-controller's loopback check, its cookie the prefix of lsp1's
// Port_Binding) whose cookie a logical flow also owns: southbound UUIDs of different tables share
// the 32-bit prefix as often as two logical flows do (at 100k rows a collision somewhere is more
// likely than not). The step lists both owners (collision), but a logical flow that cannot have
// made the rule (another priority, another datapath than the rule's metadata; ovn-controller gives
// a logical flow's rules its priority and metadata) must not become the drop's logical flow. Real
// hairpin traces of every pair, read against the pair's real southbound dump plus one logical flow
// that drops, given a UUID with lsp1's Port_Binding prefix. Collisions cannot be made on demand with
// real daemons (northd picks the UUIDs).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { annotatePass } from '../../../src/correlation/annotate';
import { replicaFromDump } from '../../../src/ovn/fixture-loader';
import { OvnModel } from '../../../src/ovn/ovn-model';
import type { ReplicaSpec } from '../../../src/ovsdb/replica/replica';
import type { DatabaseSchema } from '../../../src/ovsdb/types';
import { NORTHBOUND, OPEN_VSWITCH, SOUTHBOUND } from '../../../src/replicas/ovn-tables';
import { dpifOf, fixtureModel, packetFlows, VERDICT_FIXTURES, VERDICT_VERSIONS } from '../../support/verdict-fixtures';

type Table = { headings: string[]; data: unknown[][] };

/** The pair's model plus a copy of the first logical flow that drops at another priority than `not`, under UUID `uuid`. */
function modelWithDroppingTwin(version: string, uuid: string, not: number): OvnModel {
  const dir = join(VERDICT_FIXTURES, version);
  const load = (db: string, spec: ReplicaSpec, schema: string, text: string) =>
    replicaFromDump(db, spec, JSON.parse(readFileSync(join(dir, 'schemas', schema), 'utf8')) as DatabaseSchema, text);
  const sb = readFileSync(join(dir, 'southbound.json'), 'utf8')
    .split('\n')
    .map((line) => {
      if (!line.startsWith('{"caption":"Logical_Flow table"')) return line;
      const t = JSON.parse(line) as Table;
      const col = (n: string) => t.headings.indexOf(n);
      const row = structuredClone(t.data.find((r) => r[col('priority')] !== not && /(^|[;\s])drop;/.test(String(r[col('actions')])))!);
      row[col('_uuid')] = ['uuid', uuid];
      t.data.push(row);
      return JSON.stringify(t);
    })
    .join('\n');
  return new OvnModel({
    nb: load('OVN_Northbound', NORTHBOUND, 'ovn-nb.ovsschema', readFileSync(join(dir, 'northbound.json'), 'utf8')),
    sb: load('OVN_Southbound', SOUTHBOUND, 'ovn-sb.ovsschema', sb),
    ovs: load('Open_vSwitch', OPEN_VSWITCH as ReplicaSpec, 'vswitch.ovsschema', readFileSync(join(dir, 'openvswitch.json'), 'utf8')),
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
