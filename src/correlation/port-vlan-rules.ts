// The VLAN a logical port's own OpenFlow rule sets on what it sends: ovn-controller's table 65 rule
// (physical.c, OFTABLE_LOG_TO_PHY) whose cookie is the port's Port_Binding pushes a localnet port's tag
// before the patch port to its provider bridge, and a container port's tag (parent_name + tag) before
// the output to its parent's VIF. A pass may push VLANs that are not a given port's (another port's,
// a provider bridge's own): whose a push is, only that rule says. One reading, for the verdict (which
// logical port an output to a parent's VIF is) and the localnet VLAN check (which VLAN the port sent).

/** A step as both the annotation (AnnotatedStep) and the stored trace (StepJson) have it. */
export interface RuleStep {
  readonly owners: ReadonlyArray<{ readonly table: string; readonly name?: string | null }>;
  /** One action a line, as ofproto/trace prints them. */
  readonly actions: string;
}

export interface PortVlanRule {
  /** The logical port whose Port_Binding owns the rule. */
  readonly port: string;
  /** The VLAN IDs the rule sets. */
  readonly vids: readonly number[];
  /** The OpenFlow ports (ofport) the rule outputs to. */
  readonly ofports: readonly number[];
}

// OpenFlow 1.3+ prints the VID with OFPVID_PRESENT (0x1000) set; mod_vlan_vid is the bare VID.
const SET_VLAN_VID = /mod_vlan_vid:(\d+)|set_field:(0x[0-9a-f]+|\d+)->vlan_vid/g;
const OUTPUT = /(?:^|\n)\s*output:(\d+)/g;

/** Every step of the pass a Port_Binding owns, with the VLANs it sets and the ports it outputs to. */
export function portVlanRules(steps: readonly RuleStep[] | undefined): PortVlanRule[] {
  const rules: PortVlanRule[] = [];
  for (const s of steps ?? []) {
    const owner = s.owners.find((o) => o.table === 'Port_Binding' && o.name);
    if (!owner) continue;
    const vids = [...s.actions.matchAll(SET_VLAN_VID)].map((m) => (m[1] !== undefined ? Number(m[1]) : Number(m[2]) & 0xfff));
    const ofports = [...s.actions.matchAll(OUTPUT)].map((m) => Number(m[1]));
    rules.push({ port: owner.name!, vids: [...new Set(vids)], ofports: [...new Set(ofports)] });
  }
  return rules;
}

/** The VLANs the port's own rules set (null: no step of the pass is owned by its Port_Binding). */
export function portRuleVlans(steps: readonly RuleStep[] | undefined, port: string): number[] | null {
  const own = portVlanRules(steps).filter((r) => r.port === port);
  return own.length ? [...new Set(own.flatMap((r) => r.vids))] : null;
}

/**
 * The container port an output to `ofport` carrying VLAN `vid` was for: the port whose own rule set that
 * VLAN and output there (its parent's VIF), other than `parent` (the VIF's own iface-id). Null when no
 * rule of the pass did (an untagged copy to the VIF, or a VLAN the pipeline did not set).
 */
export function containerPortOf(rules: readonly PortVlanRule[], parent: string, ofport: number, vid: number): string | null {
  return rules.find((r) => r.port !== parent && r.vids.includes(vid) && r.ofports.includes(ofport))?.port ?? null;
}
