// A localnet port's VLAN tag, which no logical flow carries and ovn-trace does not print (its
// `output to "ln-sw2", type "localnet"` has no tag): ovn-controller turns the southbound
// Port_Binding's tag into push_vlan(vid=TAG) on what it sends by the port (physical flows owned by
// that Port_Binding, whose cookie does not change with the tag). So the stage comparison agrees when
// the datapath pushes another VLAN than the southbound says; the datapath actions of the pass that
// left by the port are read against the tag instead.
// Whose VLAN a push is: the port's own rule says (correlation/port-vlan-rules.ts), not a container
// port's tag or the provider bridge's own in the same pass: an untagged localnet port is judged by its
// rule alone, a tagged one by its rule and by the datapath actions holding that push.
import { portRuleVlans } from '../correlation/port-vlan-rules';
import type { LogicalPortJson, StepJson } from '../traces';

/**
 * A logical port as the southbound has it now (its Port_Binding: type, tag, the chassis that binds it),
 * or null when there is none.
 */
export type SouthboundPortLookup = (port: string) => { type: string; tag: number | null; chassis: string | null } | null;

export interface LocalnetCheck {
  port: string;
  /** The southbound's tag (null: untagged). */
  tag: number | null;
  /** The VLAN ids the pass that left by the port pushed (push_vlan(vid=…)). */
  pushed: number[];
  traceId: number;
}

const PUSH_VLAN = /push_vlan\((?:tpid=0x[0-9a-f]+,)?vid=(\d+)/g;

/** One check per localnet port the live packet left by, and the first disagreement's explanation. */
export function checkLocalnetTags(
  passes: ReadonlyArray<{ id: number; datapathActions: string; logicalPorts: readonly LogicalPortJson[]; steps?: StepJson[] }>,
  liveOutputs: readonly string[],
  portOf: SouthboundPortLookup,
): { checks: LocalnetCheck[]; mismatch: string | null } {
  const tagOf = (port: string) => {
    const p = portOf(port);
    return p?.type === 'localnet' ? { tag: p.tag } : null;
  };
  const checks: LocalnetCheck[] = [];
  let mismatch: string | null = null;
  // Each pass's outputs and pushes, read once for every localnet port (only when the packet left by one).
  let read: Array<{ p: (typeof passes)[number]; outs: LogicalPortJson[]; inActions: number[] }> | undefined;
  for (const port of new Set(liveOutputs)) {
    const ln = tagOf(port);
    if (!ln) continue;
    read ??= passes.map((p) => ({
      p,
      outs: p.logicalPorts.filter((x) => x.role === 'output' && x.scope === 'pass'),
      inActions: [...new Set([...p.datapathActions.matchAll(PUSH_VLAN)].map((m) => Number(m[1])))],
    }));
    for (const { p, outs, inActions } of read) {
      if (!outs.some((x) => x.name === port)) continue;
      const rule = portRuleVlans(p.steps, port);
      const pushed = rule ?? inActions;
      checks.push({ port, tag: ln.tag, pushed, traceId: p.id });
      // Without the port's rule, an untagged port's push is its own only when the pass left by no other localnet port.
      const wrong =
        ln.tag !== null
          ? !pushed.includes(ln.tag) || !inActions.includes(ln.tag)
          : pushed.length > 0 && (rule !== null || outs.every((x) => x.name === port || !tagOf(x.name)));
      if (!wrong || mismatch) continue;
      const where = rule ? `its OpenFlow rule in trace ${p.id}` : `push_vlan in trace ${p.id}'s datapath actions`;
      const did =
        ln.tag !== null && pushed.includes(ln.tag)
          ? `without VLAN ${ln.tag} (no push_vlan(vid=${ln.tag}) in trace ${p.id}'s datapath actions, though its OpenFlow rule sets it)`
          : pushed.length
            ? `with VLAN ${pushed.join(', ')} (${where})`
            : `untagged (no VLAN set by ${rule ? `its OpenFlow rule in trace ${p.id}` : `push_vlan in trace ${p.id}'s datapath actions`})`;
      mismatch =
        `The packet left by the localnet port "${port}" ${did}, but the southbound's tag of "${port}" is ${ln.tag ?? 'none'}: ` +
        'ovn-controller has not applied a tag change, or an OpenFlow rule was changed by hand (ovn-trace does not show VLAN tags).';
    }
  }
  return { checks, mismatch };
}
