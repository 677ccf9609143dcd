// The cross-check's captures (scripts/capture-ovn-trace-fixtures: test/fixtures/captured-ovn-trace/
// <version>/<kind>/): the versions that hold a kind, and a path's own logical flows resolved as the
// current southbound rows, the way the live service resolves them when ovn-controller is up to date.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LivePassWithSteps, LogicalFlowResolver } from '../../src/cross-checks/compare';

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
