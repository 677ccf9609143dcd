import { Body, Controller, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { hostname } from 'node:os';
import { ApiError, badRequest, vswitchdUnavailable } from '../common/api-error';
import { bodyStr, object, onlyKeys } from '../common/body';
import { Query as Q, rejectUnknown } from '../common/query';
import { annotatePass } from '../correlation/annotate';
import { MAX_CT_NEXT } from '../ovs/ct-next';
import { OvsParseError } from '../ovs/parse-error';
import { parseOfprotoTrace } from '../ovs/ofproto-trace';
import { simulatedPasses } from '../ovs/trace-passes';
import { PathBuilder, PathRecorder } from '../paths';
import { ReplicasService } from '../replicas/replicas.service';
import { TracesService } from '../traces/traces.service';
import { UnixctlError } from '../unixctl/client';
import { conntrackSummary, ctNextBody } from './on-demand-ct';
import { VswitchdService } from './vswitchd.service';

/**
 * ofproto/trace's classic use, annotated and stored: a hand-typed flow, no datapath flow. Every pass
 * the daemon simulated (after ct()/recirc() it goes on with an assumed conntrack state) is stored, in
 * its order, as one path: GET /paths/:id, ?logical_port= and the cross-check read them as a live path's.
 */
@ApiTags('traces')
@Controller('traces')
export class OnDemandTraceController {
  constructor(
    private readonly vswitchd: VswitchdService,
    private readonly replicas: ReplicasService,
    private readonly traces: TracesService,
    private readonly recorder: PathRecorder,
    private readonly paths: PathBuilder,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Trace a hand-typed flow (OpenFlow syntax with a bridge, or an ODP key), annotate and store it',
    description:
      'Every pass ofproto/trace simulated is stored, in order, as one path: the answer is the first pass, with `path` (its id, ' +
      'its one verdict, the last pass\'s fate, and its passes in order, as GET /paths/:id gives them). Conntrack state is what you type for ' +
      'the first pass, and after each ct() the state `ctNext` gives that resumed pass (ofproto/trace\'s --ct-next, one per resume, in order), ' +
      'past them what ofproto/trace assumed (its default trk|new): each pass\'s `ctState` and `ctStateAssumed`, `path.conntrack` in words. ' +
      'Not what a real packet saw; live sessions trace real flows. A reply of ovs-vswitchd that does not parse is a 502 naming what could not be read.',
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['flow'],
      properties: {
        flow: { type: 'string', maxLength: 4096, description: 'OpenFlow flow (with `bridge`) or ODP key; must not start with "-"' },
        bridge: { type: 'string', maxLength: 64, default: 'br-int' },
        ctNext: {
          type: 'array',
          maxItems: MAX_CT_NEXT,
          items: { type: 'string', maxLength: 64, example: 'trk,est' },
          description: 'conntrack state of each pass resumed after ct(), in order: flags new, est, rel, rpl, inv, trk, snat, dnat joined by "," or "|" (trk required; OVS\'s rules)',
        },
      },
      example: {
        bridge: 'br-int',
        flow: 'in_port=2,icmp,dl_src=50:54:00:00:00:02,dl_dst=50:54:00:00:00:01,nw_src=10.0.0.2,nw_dst=10.0.0.1,nw_ttl=64,icmp_type=0,icmp_code=0',
        ctNext: ['trk,est,rpl', 'trk,est,rpl'],
      },
    },
  })
  async create(@Body() raw: unknown, @Query() q: Q) {
    rejectUnknown(q, []);
    const b = object(raw);
    onlyKeys(b, ['bridge', 'flow', 'ctNext']);
    const flow = bodyStr(b, 'flow', { required: true, max: 4096 })!;
    const bridge = bodyStr(b, 'bridge', { max: 64 }) ?? 'br-int';
    if (!/^[\w.-]+$/.test(bridge)) throw badRequest('bridge', `not a bridge name: ${JSON.stringify(bridge)}`);
    // ofproto/trace reads any argument that starts with "-" as an option (-generate, --ct-next …):
    // neither a bridge nor a flow does, so such a value is refused, never handed over as one.
    if (bridge.startsWith('-')) throw badRequest('bridge', `not a bridge name: ${JSON.stringify(bridge)} (ofproto/trace would read it as an option)`);
    if (flow.trim().startsWith('-')) throw badRequest('flow', 'must not start with "-" (ofproto/trace would read it as an option; its options are fields of this body)');
    const ctNext = ctNextBody(b.ctNext);
    // An ODP key (`in_port(1),eth(...)`) goes alone; an OpenFlow flow needs its bridge.
    const isOdp = /^[a-z_0-9]+\(/.test(flow.trim());
    // Each --ct-next and its checked value are separate params of the JSON-RPC request: no shell, no splitting.
    const options = ctNext.flatMap((s) => ['--ct-next', s]);
    let text: string;
    try {
      text = await this.vswitchd.call('ofproto/trace', [...options, ...(isOdp ? [flow] : [bridge, flow])]);
    } catch (err) {
      if (err instanceof UnixctlError) throw badRequest('flow', `ovs-vswitchd refused it: ${err.text.trim().split('\n')[0]}`);
      throw vswitchdUnavailable(err);
    }
    const parsed = readReply(text);
    if (parsed.kind === 'no_recirculation_data') throw badRequest('flow', parsed.message);
    const dp = await this.vswitchd.datapath().catch(() => null);
    const chassis = this.replicas.chassisName() ?? hostname();
    const sims = simulatedPasses(parsed);
    const annotated = sims.map((p) => annotatePass(p.pass, this.replicas.model, { method: 'trace', dpif: dp, chassis }));
    const { pathId, traceIds } = await this.recorder.recordSimulated(annotated, chassis);
    const first = await this.traces.getStored(traceIds[0]);
    const built = await this.paths.ofPath(pathId);
    const sim = new Map(traceIds.map((id, i) => [id, sims[i]]));
    const conntrack = conntrackSummary(sims, ctNext.length);
    return {
      ...first,
      path: {
        id: pathId,
        verdict: built?.verdict ?? null,
        passes: (built?.passes ?? []).map((r) => {
          const s = sim.get(r.id);
          return {
            id: r.id,
            recircId: r.recirc_id,
            // The pass whose recirc(0xN) queued it (ofproto/trace's own link; no datapath flow).
            queuedBy: s?.parent == null ? null : traceIds[s.parent],
            ctState: s?.ctState ?? null,
            ctStateAssumed: s?.ctStateAssumed ?? false,
            kinds: (JSON.parse(r.verdict) as { kinds: string[] }).kinds,
          };
        }),
        ...(conntrack ? { conntrack } : {}),
        ...(parsed.recirculationLimit ? { recirculationLimit: parsed.recirculationLimit } : {}),
      },
    };
  }
}

/** How much of a reply a 502 quotes: enough to see what the daemon said, not a whole trace. */
const QUOTED = 120;

/**
 * The daemon's reply, parsed; a reply that does not parse is the daemon's answer gone wrong (cut
 * short, or a version printing what no parser here reads), not the caller's flow: a 502 naming what
 * could not be read and how the reply began, before anything is stored.
 */
function readReply(text: string): ReturnType<typeof parseOfprotoTrace> {
  try {
    return parseOfprotoTrace(text);
  } catch (err) {
    if (!(err instanceof OvsParseError)) throw err;
    const first = text.trimStart().split('\n')[0].slice(0, QUOTED);
    throw new ApiError(502, `ovs-vswitchd's ofproto/trace reply could not be read: ${err.reason} (${text.length} characters; it began: ${JSON.stringify(first)}); nothing was stored`);
  }
}
