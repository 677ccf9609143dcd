// Parsed pass + OVN model → annotated trace. Pure over the model: the model caches cookie
// answers and invalidates them from replica changes, so annotating is a walk over the steps with
// map lookups (bench/annotate measures it).
import type { TracePass } from '../ovs/ofproto-trace';
import type { DpifDatapath } from '../ovs/dpif-show';
import type { CookieOwners, OvnModel } from '../ovn/ovn-model';
import type { TraceStep } from '../ovs/trace-tree';
import { isCookieZero, recircIdHex } from '../ovs/ids';
import { flowRecircId } from '../ovs/trace-passes';
import { unownedEvpnFlow } from '../ovn/evpn-flows';
import { collectPassPorts, fieldValue } from './ports';
import { dpifMaps, passVerdict } from './verdict';
import type { AnnotatedStep, AnnotatedTrace, LocalnetEnds, LogicalFlowSnapshot, StepHint, StepOwner, TraceMethod, TracePort, Verdict } from './types';

export interface AnnotateOptions {
  readonly method?: TraceMethod;
  /** recirc_id of the datapath flow (`0x1`); default: the Flow line's, else `0x0`. */
  readonly recircId?: string;
  /** in_port as the datapath key names it (`vif1` or `4`); default: the Flow line's OpenFlow in_port. */
  readonly inPort?: string;
  /** dpif/show of the datapath, so `Datapath actions` port numbers become port names. */
  readonly dpif?: DpifDatapath | null;
  /** Or the maps already built from it (dpifMaps), to skip rebuilding them per trace. */
  readonly dpifMaps?: ReturnType<typeof dpifMaps>;
  readonly chassis?: string | null;
}

const IN_PORT = /(?:^|,)in_port=([^,]+)/;

export function annotatePass(pass: TracePass, model: OvnModel, opts: AnnotateOptions = {}): AnnotatedTrace {
  const steps: AnnotatedStep[] = new Array(pass.steps.length);
  const flows = new Map<string, LogicalFlowSnapshot>();
  for (let i = 0; i < pass.steps.length; i++) {
    const s = pass.steps[i];
    const cookie = isCookieZero(s.cookie) ? null : s.cookie;
    const res = cookie ? model.owners(cookie) : null;
    let actions = '';
    for (const it of s.items) if (it.kind === 'action') actions = actions ? actions + '\n' + it.text : it.text;
    if (res) for (const o of res.owners) if (o.logicalFlow) flows.set(o.uuid, o.logicalFlow);
    const fit = res?.collision ? fitOwners(res, s, model) : res;
    const step: AnnotatedStep = {
      seq: i,
      depth: s.depth,
      bridge: s.bridge,
      table: s.table,
      priority: s.priority,
      match: s.match,
      actions,
      cookie,
      outcome: s.outcome,
      owners: fit ? fit.owners : [],
      collision: res ? res.collision : false,
      hint: fit ? fit.hint : null,
      parentSeq: s.parentStep,
    };
    if (res && res.hints.length > 1) (step as { hints?: AnnotatedStep['hints'] }).hints = res.hints;
    const own = unownedEvpnFlow(step, step.owners);
    if (own) (step as { controllerFlow?: AnnotatedStep['controllerFlow'] }).controllerFlow = own;
    steps[i] = step;
  }
  const collected = collectPassPorts(pass.flow, pass.steps, model);
  const maps = opts.dpifMaps ?? dpifMaps(opts.dpif);
  const { verdict, ports: outPorts } = passVerdict(
    {
      datapathActions: pass.datapathActions,
      parsed: pass.datapathActionsParsed,
      parseError: pass.datapathActionsError?.message ?? null,
      translationFailed: pass.translationFailed,
      steps,
      lastOutport: collected.lastOutport,
      outports: collected.ports.filter((p) => p.role === 'outport'),
      dpifPortNames: maps?.names ?? null,
      dpifPortTypes: maps?.types ?? null,
      dpifLocalPorts: maps?.locals ?? null,
      inports: collected.ports.filter((p) => p.role === 'inport'),
      chassis: opts.chassis ?? null,
    },
    model,
  );
  const ports: TracePort[] = collected.ports;
  for (const p of outPorts) if (!ports.some((q) => q.role === p.role && q.logicalPort === p.logicalPort)) ports.push(p);
  const localnet = localnetEnds(ports, verdict, model);
  return {
    method: opts.method ?? 'trace',
    flow: pass.flow,
    finalFlow: pass.finalFlow,
    megaflow: pass.megaflow,
    datapathActions: pass.datapathActions,
    bridge: pass.bridges[0] ?? null,
    recircId: opts.recircId ?? recircIdHex(flowRecircId(pass.flow)),
    inPort: opts.inPort ?? IN_PORT.exec(pass.flow)?.[1] ?? null,
    warnings: pass.warnings.map((w) => w.text),
    errors: pass.errors.map((e) => e.text),
    translationFailed: pass.translationFailed,
    slowPath: pass.slowPath,
    actionExecutionFailed: pass.actionExecutionFailed,
    steps,
    ports,
    verdict,
    logicalFlows: [...flows.values()],
    ...(opts.chassis !== undefined ? { chassis: opts.chassis } : {}),
    ...(localnet ? { localnet } : {}),
  };
}

/**
 * The localnet port a pass came in by (its own inport) and the first its verdict outputs to, or
 * undefined when neither is one: the ends of a hop across the physical network, as the path's look
 * reads them (paths/localnet-hops.ts takes the verdict's outputs and the inport the same way).
 */
export function localnetEnds(ports: readonly TracePort[], verdict: Verdict, model: OvnModel): LocalnetEnds | undefined {
  const isLocalnet = (name: string) => model.portByName(name)?.type === 'localnet';
  const inPort = ports.find((p) => p.role === 'inport' && (p.scope ?? 'pass') === 'pass' && isLocalnet(p.logicalPort))?.logicalPort ?? null;
  const out = verdict.outputs.find(isLocalnet) ?? null;
  return inPort !== null || out !== null ? { in: inPort, out } : undefined;
}

/**
 * A cookie several southbound rows own (their UUIDs share the first 32 bits): every owner stays on
 * the step, but the one the rule came from goes first, so the verdict (which reads the first owner's
 * logical flow) and the step's hint name it: a logical flow of the rule's priority (ovn-controller gives
 * the OpenFlow rule the logical flow's) on the datapath of the rule's `metadata`. When the other owners
 * include a row of another table (a Port_Binding's physical-table rule, a MAC_Binding's, …) and no
 * logical flow has the rule's priority, the rule is that row's: it goes first and the step has no hint.
 * Ties keep the model's order.
 */
function fitOwners(res: CookieOwners, s: TraceStep, model: OvnModel): { owners: readonly StepOwner[]; hint: StepHint | null } {
  const meta = fieldValue(s.match, 'metadata');
  const key = meta === undefined ? null : Number(meta);
  const score = (o: StepOwner): number => {
    const lf = o.logicalFlow;
    if (!lf) return 0;
    return (lf.priority === s.priority ? 2 : 0) + (key !== null && lf.datapaths.some((d) => d.tunnelKey === key) ? 1 : 0);
  };
  const owners = [...res.owners].sort((a, b) => score(b) - score(a));
  const top = owners[0]?.logicalFlow;
  const others = res.owners.filter((o) => !o.logicalFlow);
  if (others.length && !res.owners.some((o) => score(o) >= 2)) {
    return { owners: [...others, ...res.owners.filter((o) => o.logicalFlow)], hint: null };
  }
  if (!top || score(owners[0]) === 0) return { owners: res.owners, hint: res.hint };
  return { owners, hint: top.stageHint ? (model.hintRows(top.stageHint)[0] ?? null) : null };
}
