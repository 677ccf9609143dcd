// The NAT captures of every supported pair (scripts/capture-nat-fixtures --pair PAIR writes
// test/fixtures/captured-nat/<version>/<scenario>/: LB hairpin, lb_force_snat_ip, SNAT prefixes)
// read as the service reads them: the datapath flows as dumped (userspace datapath) or as a kernel
// datapath would dump the same megaflows (kernel-form.ts: there is no kernel module here), and the
// NAT rewrites the OVN model makes of the scenario's NB rows.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IndexedFlow, type NatRewrites, RecircIndex } from '../../src/collectors/recirc-index';
import { parseDumpLine } from '../../src/ovs/dump-flows';
import type { HeaderRewrite } from '../../src/ovs/key-rewrite';
import { replicaFromDump } from '../../src/ovn/fixture-loader';
import { OvnModel } from '../../src/ovn/ovn-model';
import { Replica } from '../../src/ovsdb/replica/replica';
import { NORTHBOUND, OPEN_VSWITCH, SOUTHBOUND } from '../../src/replicas/ovn-tables';
import { capturedVersions, schema } from './captured-model';
import { kernelForm } from './kernel-form';
import { indexedFlow } from './packet-paths';

export const CAPTURED_NAT = join(__dirname, '../fixtures/captured-nat');
export const NAT_VERSIONS = capturedVersions(CAPTURED_NAT);

export type Form = 'userspace' | 'kernel';

export interface NatCapture {
  /** `ufid:…, key, packets:…, actions:…` lines of dpctl/dump-flows -m. */
  readonly lines: readonly string[];
  /** The NB Load_Balancer, NAT, Logical_Router and Logical_Router_Port rows of the scenario. */
  readonly nb: Replica;
  /** The capture's SB Datapath_Binding rows and local Bridge rows (ct-zone-* keys), when it has them. */
  readonly zones?: { readonly sb: Replica; readonly ovs: Replica };
}

export interface NatCaptureOptions {
  /**
   * Two routers (NB names) whose SB datapaths trade NB routers: the capture's ct-zone-* keys then
   * give each router's zones to the other, as if ovn-controller had assigned them the other way.
   */
  readonly swapRouters?: readonly [string, string];
  /**
   * A several-chassis capture (capture-nat-fixtures --chassis 2): the chassis (hv1, hv2) whose
   * dump-flows.txt and bridges.json are read from <scenario>/<chassis>/; its ports.json (SB
   * Port_Binding and Chassis rows) joins the SB replica.
   */
  readonly chassis?: string;
}

export function natCapture(version: string, scenario: string, opts: NatCaptureOptions = {}): NatCapture {
  const dir = join(CAPTURED_NAT, version, scenario);
  const local = opts.chassis ? join(dir, opts.chassis) : dir;
  const nbSchema = JSON.parse(readFileSync(join(CAPTURED_NAT, version, 'ovn-nb.ovsschema'), 'utf8'));
  const nb = replicaFromDump('OVN_Northbound', NORTHBOUND, nbSchema, readFileSync(join(dir, 'northbound.json'), 'utf8'));
  const lines = readFileSync(join(local, 'dump-flows.txt'), 'utf8').split('\n').filter((l) => l.startsWith('ufid:'));
  if (!existsSync(join(local, 'bridges.json'))) return { lines, nb };
  let datapaths = readFileSync(join(dir, 'datapaths.json'), 'utf8');
  if (opts.swapRouters) datapaths = swapRouters(datapaths, opts.swapRouters);
  if (opts.chassis) datapaths += `\n${readFileSync(join(dir, 'ports.json'), 'utf8')}`;
  const sb = replicaFromDump('OVN_Southbound', SOUTHBOUND, schema('ovn-sb.ovsschema', version), datapaths);
  const ovs = replicaFromDump('Open_vSwitch', OPEN_VSWITCH, schema('vswitch.ovsschema', version), readFileSync(join(local, 'bridges.json'), 'utf8'));
  return { lines, nb, zones: { sb, ovs } };
}

/** `ovsdb-client dump --format=json` Datapath_Binding rows with the two routers' `logical-router` ids traded. */
function swapRouters(dump: string, [a, b]: readonly [string, string]): string {
  const table = JSON.parse(dump) as { headings: string[]; data: unknown[][] };
  const col = table.headings.indexOf('external_ids');
  const ids = (row: unknown[]) => (row[col] as ['map', Array<[string, string]>])[1];
  const named = (name: string) => {
    const row = table.data.find((r) => ids(r).some(([k, v]) => k === 'name' && v === name));
    const pair = row && ids(row).find(([k]) => k === 'logical-router');
    if (!pair) throw new Error(`no router datapath named ${name}`);
    return pair;
  };
  const [pa, pb] = [named(a), named(b)];
  [pa[1], pb[1]] = [pb[1], pa[1]];
  return JSON.stringify(table);
}

/** What the OVN model says a ct(nat) in a zone can rewrite, by the capture's zone assignments. */
export function zonedRewrites(c: NatCapture): NatRewrites {
  if (!c.zones) throw new Error('capture without bridges.json');
  const model = new OvnModel({ nb: c.nb, ...c.zones });
  return (zone) => model.natRewrites(zone);
}

/** The rewrites the OVN model makes of these NB rows (its SB is empty: natRewrites reads only NB). */
export function modelRewrites(version: string, nb: Replica): readonly HeaderRewrite[] {
  const sb = new Replica('OVN_Southbound', SOUTHBOUND);
  sb.configure(schema('ovn-sb.ovsschema', version));
  return new OvnModel({ nb, sb }).natRewrites();
}

export type NatFlow = IndexedFlow & { id: number; line: string };

/** The capture's flows in a form, numbered as dumped; `line` is the dumped (userspace) line. */
export function natFlows(c: NatCapture, form: Form): NatFlow[] {
  return c.lines.map((line, id) => {
    const l = form === 'kernel' ? line.replace(/^(ufid:[^,]+, )(.*?)(, packets:.*)$/, (_m, a: string, key: string, b: string) => a + kernelForm(key) + b) : line;
    return { id, line, ...indexedFlow(parseDumpLine(l)) };
  });
}

/** Every edge the index finds, asked from both ends (they must agree), as `parent->child` ids. */
export function natEdges(flows: readonly NatFlow[], rewrites: readonly HeaderRewrite[] | NatRewrites): string[] {
  const index = new RecircIndex<NatFlow>(typeof rewrites === 'function' ? rewrites : () => rewrites);
  for (const f of flows) index.add(f);
  const up = flows.flatMap((c) => index.parentsOf(c).map((p) => `${p.id}->${c.id}`)).sort();
  const down = flows.flatMap((p) => index.childrenOf(p).map((c) => `${p.id}->${c.id}`)).sort();
  if (up.join() !== down.join()) throw new Error(`parentsOf and childrenOf disagree: ${up.join(' ')} / ${down.join(' ')}`);
  return up;
}

/** Every parent -> child of one recirculation slot (the child's recirc_id is a target of the parent's, same in_port). */
export function slotEdges(flows: readonly NatFlow[]): string[] {
  return flows
    .flatMap((c) => flows.filter((p) => c.recircId !== 0 && p.recircTargets.includes(c.recircId) && p.inPort === c.inPort).map((p) => `${p.id}->${c.id}`))
    .sort();
}

/** The one flow whose dumped line matches every pattern. */
export function flowWith(flows: readonly NatFlow[], ...patterns: RegExp[]): NatFlow {
  const found = flows.filter((f) => patterns.every((p) => p.test(f.line)));
  if (found.length !== 1) throw new Error(`${found.length} flows match ${patterns.join(' ')}`);
  return found[0];
}
