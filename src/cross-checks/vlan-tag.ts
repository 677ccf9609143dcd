// A localnet port's VLAN tag, which no logical flow carries and ovn-trace does not print (its
// `output to "ln-sw2", type "localnet"` has no tag): ovn-controller turns the southbound
// Port_Binding's tag into push_vlan(vid=TAG) on what it sends by the port (physical flows owned by
// that Port_Binding, whose cookie does not change with the tag). So the stage comparison agrees when
// the datapath pushes another VLAN than the southbound says; the datapath actions of the pass that
// left by the port are read against the tag instead.
import type { LogicalPortJson } from '../traces';

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
  passes: ReadonlyArray<{ id: number; datapathActions: string; logicalPorts: readonly LogicalPortJson[] }>,
  liveOutputs: readonly string[],
  portOf: SouthboundPortLookup,
): { checks: LocalnetCheck[]; mismatch: string | null } {
  const tagOf = (port: string) => {
    const p = portOf(port);
    return p?.type === 'localnet' ? { tag: p.tag } : null;
  };
  const checks: LocalnetCheck[] = [];
  let mismatch: string | null = null;
  for (const port of new Set(liveOutputs)) {
    const ln = tagOf(port);
    if (!ln) continue;
    for (const p of passes) {
      const outs = p.logicalPorts.filter((x) => x.role === 'output' && x.scope === 'pass');
      if (!outs.some((x) => x.name === port)) continue;
      const pushed = [...new Set([...p.datapathActions.matchAll(PUSH_VLAN)].map((m) => Number(m[1])))];
      checks.push({ port, tag: ln.tag, pushed, traceId: p.id });
      // Untagged: a push is this port's only when the pass left by no other localnet port.
      const wrong = ln.tag !== null ? !pushed.includes(ln.tag) : pushed.length > 0 && outs.every((x) => x.name === port || !tagOf(x.name));
      if (!wrong || mismatch) continue;
      const did = pushed.length ? `with VLAN ${pushed.join(', ')} (push_vlan in trace ${p.id}'s datapath actions)` : `untagged (no push_vlan in trace ${p.id}'s datapath actions)`;
      mismatch =
        `The packet left by the localnet port "${port}" ${did}, but the southbound's tag of "${port}" is ${ln.tag ?? 'none'}: ` +
        'ovn-controller has not applied a tag change, or an OpenFlow rule was changed by hand (ovn-trace does not show VLAN tags).';
    }
  }
  return { checks, mismatch };
}
