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
  /** Conntrack sections consume one `--ct` state each, in order. */
  conntrack: boolean;
  /** The ct_state ovn-trace used, when it prints it (`new|trk`), and whether it was its default. */
  ctState: string | null;
  defaulted: boolean;
  /** Index of the pipeline it sits in. */
  pipelineIndex: number;
  line: number;
}

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

function parseStage(rest: string, table: number, line: number): SimStage {
  const noMatch = /^(?:([A-Za-z0-9_]+): )?no match \(implicit drop\)$/.exec(rest);
  if (noMatch) return { table, stage: noMatch[1] ?? null, source: null, match: null, priority: null, uuid: null, actions: [], line };
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
  for (let i = first + 1; i < lines.length; i++) {
    const raw = lines[i];
    const s = raw.trim();
    if (!s) continue;
    const lineNo = i + 1;
    if (isDashes(lines[i + 1], s.length) && raw.indexOf(s) === lines[i + 1].indexOf('-')) {
      i++;
      stage = null;
      const p = PIPELINE_RE.exec(s);
      if (p) {
        out.pipelines.push({ pipeline: p[1] as Pipeline, datapath: p[2], inport: p[3], outport: p[4] ?? null, stages: [], line: lineNo });
        continue;
      }
      const ct = /^(ct_next|ct_lb_mark|ct_lb|ct_dnat|ct_snat|ct_dnat_in_czone|ct_snat_in_czone|ct_commit_nat)\b/.exec(s);
      const st = /ct_state=([a-z|]+)/.exec(s);
      out.sections.push({
        title: s,
        conntrack: !!ct,
        ctState: st ? st[1] : null,
        defaulted: s.includes('default (use --ct to customize)'),
        pipelineIndex: out.pipelines.length - 1,
        line: lineNo,
      });
      continue;
    }
    const t = /^(\d{1,3})\. (.*)$/.exec(s);
    if (t) {
      const pipeline = out.pipelines.at(-1);
      if (!pipeline) throw new OvnTraceParseError(`stage before any pipeline header: ${JSON.stringify(s)}`, lineNo);
      stage = parseStage(t[2], Number(t[1]), lineNo);
      pipeline.stages.push(stage);
      if (stage.match === null) out.drops.push({ pipelineIndex: out.pipelines.length - 1, stage });
      continue;
    }
    if (s.startsWith('*** ')) {
      out.errors.push(s);
      continue;
    }
    const o = OUTPUT_RE.exec(s);
    if (o) {
      out.outputs.push({ port: o[1], type: o[2], pipelineIndex: out.pipelines.length - 1 });
      continue;
    }
    if (!stage) continue;
    stage.actions.push(s);
    if (s === 'drop;' || s === '/* drop */' || s === '/* drop */;') out.drops.push({ pipelineIndex: out.pipelines.length - 1, stage });
  }
  if (!out.pipelines.length) throw new OvnTraceParseError('no pipeline header (ingress(dp=…, inport=…)) in ovn-trace output', first + 1);
  return out;
}

/** Where the simulated packet ends: the ports it leaves by (patch ports excluded), or dropped. */
export function simVerdict(r: OvnTraceResult): { outputs: string[]; dropped: boolean } {
  const outputs = [...new Set(r.outputs.filter((o) => o.type !== 'patch').map((o) => o.port))];
  return { outputs, dropped: outputs.length === 0 };
}
