import { Body, Controller, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { hostname } from 'node:os';
import { badRequest, vswitchdUnavailable } from '../common/api-error';
import { bodyStr, object, onlyKeys } from '../common/body';
import { Query as Q, rejectUnknown } from '../common/query';
import { annotatePass } from '../correlation/annotate';
import { parseOfprotoTrace } from '../ovs/ofproto-trace';
import { ReplicasService } from '../replicas/replicas.service';
import { TracesService } from '../traces/traces.service';
import { UnixctlError } from '../unixctl/client';
import { VswitchdService } from './vswitchd.service';

/** ofproto/trace's classic use, annotated and stored: a hand-typed flow, no datapath flow. */
@ApiTags('traces')
@Controller('traces')
export class OnDemandTraceController {
  constructor(
    private readonly vswitchd: VswitchdService,
    private readonly replicas: ReplicasService,
    private readonly traces: TracesService,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Trace a hand-typed flow (OpenFlow syntax with a bridge, or an ODP key), annotate and store it',
    description: 'Note: conntrack state is what you type, not what a real packet saw; live sessions trace real flows.',
  })
  @ApiBody({ schema: { example: { bridge: 'br-int', flow: 'in_port=1,icmp,dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:02,nw_src=10.0.0.1,nw_dst=10.0.0.2' } } })
  async create(@Body() raw: unknown, @Query() q: Q) {
    rejectUnknown(q, []);
    const b = object(raw);
    onlyKeys(b, ['bridge', 'flow']);
    const flow = bodyStr(b, 'flow', { required: true, max: 4096 })!;
    const bridge = bodyStr(b, 'bridge', { max: 64 }) ?? 'br-int';
    if (!/^[\w.-]+$/.test(bridge)) throw badRequest('bridge', `not a bridge name: ${JSON.stringify(bridge)}`);
    // An ODP key (`in_port(1),eth(...)`) goes alone; an OpenFlow flow needs its bridge.
    const isOdp = /^[a-z_0-9]+\(/.test(flow.trim());
    let text: string;
    try {
      text = await this.vswitchd.call('ofproto/trace', isOdp ? [flow] : [bridge, flow]);
    } catch (err) {
      if (err instanceof UnixctlError) throw badRequest('flow', `ovs-vswitchd refused it: ${err.text.trim().split('\n')[0]}`);
      throw vswitchdUnavailable(err);
    }
    const parsed = parseOfprotoTrace(text);
    if (parsed.kind === 'no_recirculation_data') throw badRequest('flow', parsed.message);
    const dp = await this.vswitchd.datapath().catch(() => null);
    const chassis = this.replicas.chassisName() ?? hostname();
    const trace = annotatePass(parsed.pass, this.replicas.model, { method: 'trace', dpif: dp, chassis });
    const id = await this.traces.record({ trace, chassis, createdAt: new Date().toISOString(), consistent: null });
    return this.traces.getStored(id);
  }
}
