// `ovn-trace --detailed` output into pipelines and stages. ovn-trace has no machine-readable
// output (facts §4); the detailed text is a tree printed by ovntrace_node_print_details():
//   # <the microflow as an OpenFlow flow>
//   <title>                      pipeline `ingress(dp="sw0", inport="lsp1")` or a transformation
//   <dashes as long as the title> (`ct_next(ct_state=new|trk)`, `ct_lb_mark`, `multicast(...)`, `clone`)
//   NN. stage (source): match, priority P, uuid XXXXXXXX     one per logical table visited
//       action lines                                        indented below their stage
// A node that is not the last of its list is indented one more level, so titles and stages can
// be indented anywhere: nothing here relies on column 0. Errors about the microflow itself
// ("unknown datapath", "error parsing flow: …") come on stdout with exit status 0.

export type Pipeline = 'ingress' | 'egress';

export interface SimStage {
  /** Logical table id (the `NN.`). */
  table: number;
  stage: string | null;
  source: string | null;
  /** null for `no match (implicit drop)`. */
  match: string | null;
  priority: number | null;
  /** First 8 hex digits of the Logical_Flow UUID: the cookie of its OpenFlow rules. */
  uuid: string | null;
  actions: string[];
  /**
   * ovn-trace still carries a conntrack state here that OVS had already cleared: a `ct_commit`
   * ran earlier in this conntrack scope. OVS executes it as ct(commit) without recirculation, after
   * which the packet is untracked until the next ct(…),recirc; ovn-trace's ct_commit changes
   * nothing (OVNACT_CT_COMMIT_V2 in ovn-trace.c), so the stages after it, the egress pipeline and
   * the next datapaths included, are simulated with the state of the last ct action.
   */
  ctCleared: boolean;
  /** 1-based line in the output. */
  line: number;
}

export interface SimPipeline {
  pipeline: Pipeline;
  datapath: string;
  inport: string;
  outport: string | null;
  stages: SimStage[];
  line: number;
}

/** A non-pipeline title: a conntrack recirculation (`ct_next(ct_state=new|trk)`, `ct_lb_mark`), `clone`, `multicast(…)`. */
export interface SimSection {
  title: string;
  /** A conntrack action (ct_next, ct_lb_mark, ct_dnat, ct_snat, ct_commit_nat…): in OVS a ct(…) with recirculation, i.e. a new pass. */
  conntrack: boolean;
  /** The action's name (`ct_next`, `ct_lb_mark`, `ct_dnat`, …), null for a non-conntrack section. */
  kind: string | null;
  /**
   * Whether this action took the next `--ct` state (next_ct_state() in ovn-trace.c): ct_next and
   * ct_lb_mark always (IP packets), ct_dnat/ct_snat/ct_commit_nat/ct_commit_to_zone only on a
   * packet ovn-trace holds untracked; ovn-trace carries the state of the last ct action across
   * pipelines and datapaths, so a router's NAT after a switch's conntrack takes none.
   */
  consumesCt: boolean;
  /** The first stage after the section (the table the ct action resumed at, or a later one ovn-trace did not omit). */
  resumesAt: { pipelineIndex: number; table: number } | null;
  /** The ct_state ovn-trace used, when it prints it (`new|trk`), and whether it was its default. */
  ctState: string | null;
  defaulted: boolean;
  /** Index of the pipeline it sits in. */
  pipelineIndex: number;
  line: number;
}

/** ovn-trace's title of a conntrack transformation: ct_%cnat%s prints `ct_dnatin_czone` for ct_dnat_in_czone. */
const CT_SECTION_RE = /^(ct_next|ct_lb_mark_local|ct_lb_mark|ct_lb|ct_[ds]nat(?:_?in_czone)?|ct_commit_nat|ct_commit_to_zone)(?![A-Za-z0-9_])/;
/** Always take a --ct state (for IP packets); the others only when the packet is untracked in ovn-trace. */
const ALWAYS_CONSUMES = new Set(['ct_next', 'ct_lb_mark', 'ct_lb_mark_local', 'ct_lb']);
/** ct_commit without recirculation (not ct_commit_nat / ct_commit_to_zone, which recirculate). */
const CT_COMMIT_RE = /^ct_commit(?![A-Za-z0-9_])/;
const IP_FLOW_RE = /^(ip|ipv6|tcp|tcp6|udp|udp6|icmp|icmp6|sctp|sctp6|igmp)(,|$)/;

export interface SimOutput {
  port: string;
  type: string;
  pipelineIndex: number;
}

export interface OvnTraceResult {
  /** The microflow as ovn-trace understood it (OpenFlow syntax). */
  flow: string;
  pipelines: SimPipeline[];
  sections: SimSection[];
  /** `/* output to "lsp2", type "" *\/` lines; type "patch" continues in another datapath. */
  outputs: SimOutput[];
  /** Stages that dropped: `drop;` among their actions, or no match (implicit drop). */
  drops: Array<{ pipelineIndex: number; stage: SimStage }>;
  /** `*** …` lines (TTL underflow, no OpenFlow flows, …). */
  errors: string[];
}

/** Output that does not follow the detailed layout; names the 1-based line. */
export class OvnTraceParseError extends Error {
  override readonly name = 'OvnTraceParseError';
  constructor(
    readonly reason: string,
    readonly line: number,
  ) {
    super(`bad ovn-trace output at line ${line}: ${reason}`);
  }
}

/** ovn-trace refused the microflow or the datapath (its message, printed instead of a trace). */
export class OvnTraceRefusedError extends Error {
  override readonly name = 'OvnTraceRefusedError';
  constructor(readonly reason: string) {
    super(`ovn-trace refused the microflow: ${reason}`);
  }
}

const PIPELINE_RE = /^(ingress|egress)\(dp="(.*?)", inport="(.*?)"(?:, outport="(.*)")?\)$/;
const STAGE_TAIL_RE = /, priority (\d+), uuid ([0-9a-f]{8})$/;
const STAGE_HEAD_RE = /^(?:([A-Za-z0-9_]+) )?(?:\(([^()]*)\))?: /;
const OUTPUT_RE = /^\/\* output to "(.*)", type "(.*)" \*\/$/;

function parseStage(rest: string, table: number, line: number, ctCleared: boolean): SimStage {
  const noMatch = /^(?:([A-Za-z0-9_]+): )?no match \(implicit drop\)$/.exec(rest);
  if (noMatch) return { table, stage: noMatch[1] ?? null, source: null, match: null, priority: null, uuid: null, actions: [], ctCleared, line };
  const tail = STAGE_TAIL_RE.exec(rest);
  if (!tail) throw new OvnTraceParseError(`stage line without ", priority P, uuid XXXXXXXX": ${JSON.stringify(rest)}`, line);
  const body = rest.slice(0, tail.index);
  const head = STAGE_HEAD_RE.exec(body);
  return {
    table,
    stage: head?.[1] ?? null,
    source: head?.[2] ?? null,
    match: head ? body.slice(head[0].length) : body,
    priority: Number(tail[1]),
    uuid: tail[2],
    actions: [],
    ctCleared,
    line,
  };
}

function isDashes(s: string | undefined, width: number): boolean {
  return s !== undefined && s.trim().length === width && /^\s*-+$/.test(s);
}

/** Parses `ovn-trace --detailed` standard output. Throws OvnTraceRefusedError or OvnTraceParseError. */
export function parseOvnTrace(text: string): OvnTraceResult {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) throw new OvnTraceRefusedError('empty output');
  if (!lines[first].startsWith('# ')) throw new OvnTraceRefusedError(lines.slice(first).join(' ').replace(/\s+/g, ' ').trim());
  const out: OvnTraceResult = { flow: lines[first].slice(2).trim(), pipelines: [], sections: [], outputs: [], drops: [], errors: [] };
  let stage: SimStage | null = null;
  const isIp = IP_FLOW_RE.test(out.flow);
  // ovn-trace's conntrack state along the output (which is its execution order), and whether OVS
  // would have cleared it by a ct_commit since the last ct action.
  let tracked = false;
  let cleared = false;
  let awaitingResume: SimSection[] = [];
  // A stage after which nothing ran: with ACL tiers (OVN >= 23.09) ls_*_acl_action drops by a
  // `/* drop */` that ovn-trace does not print, so its last printed action is a register load.
  let open: { stage: SimStage; pipelineIndex: number; followed: boolean } | null = null;
  const close = () => {
    if (open && !open.followed && open.stage.match !== null && !open.stage.actions.some((a) => /^(next|output)\b/.test(a)) && !out.drops.some((d) => d.stage === open!.stage)) {
      out.drops.push({ pipelineIndex: open.pipelineIndex, stage: open.stage });
    }
    open = null;
  };
  for (let i = first + 1; i < lines.length; i++) {
    const raw = lines[i];
    const s = raw.trim();
    if (!s) continue;
    const lineNo = i + 1;
    if (isDashes(lines[i + 1], s.length) && raw.indexOf(s) === lines[i + 1].indexOf('-')) {
      i++;
      const p = PIPELINE_RE.exec(s);
      // A transformation (ct_next, arp, clone…) continues its stage; a pipeline header does not.
      if (open && !p) open.followed = true;
      close();
      stage = null;
      if (p) {
        out.pipelines.push({ pipeline: p[1] as Pipeline, datapath: p[2], inport: p[3], outport: p[4] ?? null, stages: [], line: lineNo });
        continue;
      }
      const ct = CT_SECTION_RE.exec(s);
      const st = /ct_state=([a-z|]+)/.exec(s);
      const defaulted = s.includes('default (use --ct to customize)');
      const kind = ct ? ct[1] : null;
      const section: SimSection = {
        title: s,
        conntrack: !!ct,
        kind,
        consumesCt: !!kind && (defaulted || (ALWAYS_CONSUMES.has(kind) ? isIp : !tracked)),
        resumesAt: null,
        ctState: st ? st[1] : null,
        defaulted,
        pipelineIndex: out.pipelines.length - 1,
        line: lineNo,
      };
      out.sections.push(section);
      if (kind) {
        tracked = tracked || section.consumesCt;
        cleared = false;
        awaitingResume.push(section);
      }
      continue;
    }
    const t = /^(\d{1,3})\. (.*)$/.exec(s);
    if (t) {
      const pipeline = out.pipelines.at(-1);
      if (!pipeline) throw new OvnTraceParseError(`stage before any pipeline header: ${JSON.stringify(s)}`, lineNo);
      close();
      stage = parseStage(t[2], Number(t[1]), lineNo, cleared);
      open = { stage, pipelineIndex: out.pipelines.length - 1, followed: false };
      pipeline.stages.push(stage);
      for (const sec of awaitingResume) sec.resumesAt = { pipelineIndex: out.pipelines.length - 1, table: stage.table };
      awaitingResume = [];
      if (stage.match === null) out.drops.push({ pipelineIndex: out.pipelines.length - 1, stage });
      continue;
    }
    if (s.startsWith('*** ')) {
      out.errors.push(s);
      if (open) open.followed = true;
      continue;
    }
    const o = OUTPUT_RE.exec(s);
    if (o) {
      out.outputs.push({ port: o[1], type: o[2], pipelineIndex: out.pipelines.length - 1 });
      if (open) open.followed = true;
      continue;
    }
    if (!stage) continue;
    stage.actions.push(s);
    if (/^ct_clear\b/.test(s)) tracked = cleared = false;
    else if (CT_COMMIT_RE.test(s) && tracked) cleared = true;
    if (s === 'drop;' || s === '/* drop */' || s === '/* drop */;') out.drops.push({ pipelineIndex: out.pipelines.length - 1, stage });
  }
  close();
  if (!out.pipelines.length) throw new OvnTraceParseError('no pipeline header (ingress(dp=…, inport=…)) in ovn-trace output', first + 1);
  return out;
}

/** Where the simulated packet ends: the ports it leaves by (patch ports excluded), or dropped. */
export function simVerdict(r: OvnTraceResult): { outputs: string[]; dropped: boolean } {
  const outputs = [...new Set(r.outputs.filter((o) => o.type !== 'patch').map((o) => o.port))];
  return { outputs, dropped: outputs.length === 0 };
}
