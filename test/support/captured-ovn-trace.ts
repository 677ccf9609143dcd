// The cross-check's captures (scripts/capture-ovn-trace-fixtures: test/fixtures/captured-ovn-trace/
// <version>/<kind>/): the versions that hold a kind, and a path's own logical flows resolved as the
// current southbound rows, the way the live service resolves them when ovn-controller is up to date.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dpifMaps, passVerdict, type VerdictResult } from '../../src/correlation/verdict';
import type { LivePassWithSteps, LogicalFlowResolver } from '../../src/cross-checks/compare';
import { parseDpifShow } from '../../src/ovs/dpif-show';
import { parseActions } from '../../src/ovs/odp-actions';
import { modelFromDumps } from './captured-model';

export const CAPTURED_OVN_TRACE = join(__dirname, '../fixtures/captured-ovn-trace');

/** The pairs (`ovs-X_ovn-Y`) whose captures hold `kind` (live, tunnel, …). */
export function capturedVersions(kind: string): string[] {
  return readdirSync(CAPTURED_OVN_TRACE).filter((d) => /^ovs-[\d.]+_ovn-[\d.]+$/.test(d) && existsSync(join(CAPTURED_OVN_TRACE, d, kind)));
}

/** Resolves the path's own logical flows as current southbound rows. */
export function currentFlows(passes: LivePassWithSteps[]): LogicalFlowResolver {
  const all = passes.flatMap((x) => x.steps ?? []).flatMap((s) => s.owners).filter((o) => o.table === 'Logical_Flow');
  return (prefix) =>
    all
      .filter((o) => o.uuid.startsWith(prefix))
      .map((o) => ({ uuid: o.uuid, stale: false, pipeline: o.pipeline!, tableId: o.tableId!, stage: o.stage ?? null, priority: o.priority!, match: o.match!, actions: o.actions! }));
}

/** The pairs whose flood-vlan capture keeps hv1's dpif/show and that run's NB/SB (for the correlation's own tests). */
export const FLOOD_VLAN_WITH_DUMPS = capturedVersions('flood-vlan').filter((v) => existsSync(join(CAPTURED_OVN_TRACE, v, 'flood-vlan', 'southbound.json')));

/**
 * An interface's OpenFlow port number (its Interface ofport) in a dpif/show: `vif5 5/6:` is OpenFlow
 * port 5, datapath port 6 (ofproto-dpif.c dpif_show_backer). The OpenFlow rules output to the former.
 */
export function dpifOfport(show: string, name: string): number {
  return Number(new RegExp(`^\\s+${name} (\\d+)/\\d+:`, 'm').exec(show)![1]);
}

/**
 * flood-container's two copies to vif5, lsp8's (VLAN 8) and lsp5's, in the order hv1's datapath sent them.
 * ovn-controller outputs a group's members in the order it reads the Multicast_Group's ports set: in all
 * three captures that of the Port_Binding uuids, so random per run, not per release. The debian12 capture
 * has lsp8's copy first (`push_vlan(vid=8,pcp=0),6,pop_vlan,6`), the debian13 and unstable ones lsp5's
 * (`6,push_vlan(vid=8,pcp=0),6`: no pop_vlan, nothing follows). Read from the actions alone, apart from the
 * verdict walk under test; any other form throws, a case to look at.
 */
export function containerCopyOrder(actions: string): ['lsp8', 'lsp5'] | ['lsp5', 'lsp8'] {
  if (/push_vlan\(vid=8,pcp=0\),(\d+),pop_vlan,\1$/.test(actions)) return ['lsp8', 'lsp5'];
  if (/\),(\d+),push_vlan\(vid=8,pcp=0\),\1$/.test(actions)) return ['lsp5', 'lsp8'];
  throw new Error(`flood-container: neither known order of the two copies to vif5: ${actions}`);
}

/**
 * hv1's pass of a flood-vlan capture (`name`-path.json) as the correlation reads it with that run's NB/SB,
 * hv1's dpif/show and `ifaces` as hv1's interfaces (iface-id null: no logical port stands for it), and no
 * localnet outport behind an output: what an uplink with no localnet port, or a VIF with no iface-id, gives.
 */
export function floodVlanPass(version: string, name: string, ifaces: Array<[name: string, ifaceId: string | null]>): { passes: LivePassWithSteps[]; pass: VerdictResult } {
  const dir = join(CAPTURED_OVN_TRACE, version, 'flood-vlan');
  const show = readFileSync(join(dir, 'hv1.dpif-show.txt'), 'utf8');
  const model = modelFromDumps(dir, version, ifaces.map(([iface, id]) => [iface, dpifOfport(show, iface), id]));
  const passes = (JSON.parse(readFileSync(join(dir, `${name}-path.json`), 'utf8')) as { passes: LivePassWithSteps[] }).passes;
  const maps = dpifMaps(parseDpifShow(show).datapaths[0])!;
  const actions = passes[0].datapathActions;
  const input = { datapathActions: actions, parsed: parseActions(actions), parseError: null, translationFailed: null, steps: [], lastOutport: null, outports: [] };
  return { passes, pass: passVerdict({ ...input, dpifPortNames: maps.names, dpifPortTypes: maps.types }, model) };
}
