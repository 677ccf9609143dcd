import { EXAMPLES } from '../openapi/examples';
import { Body, Controller, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiError, notFound, vswitchdUnavailable } from '../common/api-error';
import { noBody } from '../common/body';
import { pathUuid, Query as Q, rejectUnknown } from '../common/query';
import { TracesService } from '../traces/traces.service';
import { PollerService } from './poller.service';
import { TracerService } from './tracer.service';
import { VswitchdService } from './vswitchd.service';

/**
 * `POST /datapath-flows/:ufid/trace`: an installed flow traced now. Here, beside the poller and the
 * tracer it drives, rather than in datapath-flows (the stored lifetimes), which the collectors write.
 */
@ApiTags('datapath flows')
@Controller('datapath-flows')
export class DatapathFlowTraceController {
  constructor(
    private readonly poller: PollerService,
    private readonly tracer: TracerService,
    private readonly traces: TracesService,
    private readonly vswitchd: VswitchdService,
  ) {}

  @Post(':ufid/trace')
  @HttpCode(201)
  // The operationId it had under DatapathFlowsController: clients generated from the document keep their method name.
  @ApiOperation({ operationId: 'DatapathFlowsController_trace', summary: 'Trace one installed datapath flow now (ofproto/trace of its own key), annotate and store it' })
  @ApiCreatedResponse({ description: 'The stored, annotated trace', schema: { example: EXAMPLES.trace } })
  async trace(@Param('ufid') ufidText: string, @Query() q: Q, @Body() raw: unknown) {
    rejectUnknown(q, []);
    noBody(raw);
    const ufid = pathUuid(ufidText, 'ufid');
    let flow = this.poller.table.live.get(ufid);
    if (!flow) {
      // A failed dump says nothing about the flow: 503, not "not installed".
      if ((await this.poller.cycle()) === null) {
        // No dump taken yet: ovs-vswitchd down is the first thing to say (nothing can be traced without it).
        if (this.poller.waitingForChassis) {
          await this.vswitchd.call('version').catch((err: unknown) => Promise.reject(vswitchdUnavailable(err)));
          throw new ApiError(503, 'the local OVS database has not named this chassis yet (external_ids:system-id), so no dump was taken: retry in a moment');
        }
        throw vswitchdUnavailable();
      }
      flow = this.poller.table.live.get(ufid);
    }
    if (!flow) throw notFound(`datapath flow ${ufid} is not installed now`);
    const r = await this.tracer.traceNow(flow);
    if (!r.traceId) throw new ApiError(502, `ovs-vswitchd could not trace ${ufid}: ${r.reason}`);
    return this.traces.getStored(r.traceId);
  }
}
