import { EXAMPLES } from '../openapi/examples';
import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiError, notFound, vswitchdUnavailable } from '../common/api-error';
import { cursor, limit, oneOf, pathUuid, Query as Q, rejectUnknown, str } from '../common/query';
import { PollerService } from '../collectors/poller.service';
import { TracerService } from '../collectors/tracer.service';
import { TracesService } from '../traces/traces.service';
import { DatapathFlowsService } from './datapath-flows.service';

@ApiTags('datapath flows')
@Controller('datapath-flows')
export class DatapathFlowsController {
  constructor(
    private readonly flows: DatapathFlowsService,
    private readonly poller: PollerService,
    private readonly tracer: TracerService,
    private readonly traces: TracesService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Datapath flow lifetimes, newest first' })
  @ApiQuery({ name: 'state', required: false, enum: ['live', 'removed'] })
  @ApiQuery({ name: 'logical_port', required: false, description: 'Flows whose traces touched this logical port (name or UUID)' })
  @ApiQuery({ name: 'chassis', required: false })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiOkResponse({ schema: { example: EXAMPLES.datapathFlowList } })
  list(@Query() q: Q) {
    rejectUnknown(q, ['state', 'logical_port', 'chassis', 'limit', 'cursor']);
    return this.flows.list({
      state: oneOf(q, 'state', ['live', 'removed'] as const),
      logicalPort: str(q, 'logical_port'),
      chassis: str(q, 'chassis'),
      cursor: cursor(q),
      limit: limit(q),
    });
  }

  @Get(':ufid')
  @ApiOperation({ summary: 'The lifetimes of one UFID, newest first: stats, traces, recirculation parents and children' })
  @ApiOkResponse({ schema: { example: EXAMPLES.datapathFlow } })
  get(@Param('ufid') ufid: string) {
    return this.flows.lifetimes(pathUuid(ufid, 'ufid'));
  }

  @Post(':ufid/trace')
  @HttpCode(201)
  @ApiOperation({ summary: 'Trace one installed datapath flow now (ofproto/trace of its own key), annotate and store it' })
  @ApiCreatedResponse({ description: 'The stored, annotated trace', schema: { example: EXAMPLES.trace } })
  async trace(@Param('ufid') ufidText: string) {
    const ufid = pathUuid(ufidText, 'ufid');
    let flow = this.poller.table.live.get(ufid);
    if (!flow) {
      // A failed dump says nothing about the flow: 503, not "not installed".
      if ((await this.poller.cycle()) === null) throw vswitchdUnavailable();
      flow = this.poller.table.live.get(ufid);
    }
    if (!flow) throw notFound(`datapath flow ${ufid} is not installed now`);
    const r = await this.tracer.traceNow(flow);
    if (!r.traceId) throw new ApiError(502, `ovs-vswitchd could not trace ${ufid}: ${r.reason}`);
    return this.traces.get(r.traceId);
  }
}
