import { Controller, Get, Header, Param, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { badRequest } from '../common/api-error';
import { includes, limit, traceCursor, oneOf, pathId, Query as Q, rejectUnknown, str, time, uuid } from '../common/query';
import { sendJson } from '../common/send-json';
import { TracesService } from './traces.service';
import { TRACE_EXAMPLE, TRACE_LIST_EXAMPLE } from './trace.examples';
import { VERDICT_FILTER_DOC } from './trace-record';

/** How logical_port took part: alone it says nothing, and filtered nothing (every trace came back). */
export function portRole(q: Q): 'inport' | 'outport' | 'any' | undefined {
  const role = oneOf(q, 'role', ['inport', 'outport', 'any'] as const);
  if (role !== undefined && q.logical_port === undefined) throw badRequest('role', 'only with logical_port (how that port took part)');
  return role;
}

const LIST_PARAMS = ['logical_port', 'role', 'ufid', 'logical_flow', 'northbound_uuid', 'datapath', 'verdict', 'since', 'until', 'chassis', 'include', 'limit', 'cursor', 'session'];

@ApiTags('traces')
@Controller('traces')
export class TracesController {
  constructor(private readonly traces: TracesService) {}

  @Get()
  @ApiOperation({ summary: 'Annotated traces, newest first', description: 'What happened to a logical port\'s traffic, and which logical flow made it so.' })
  @ApiQuery({ name: 'logical_port', required: false, description: 'Logical port name or UUID (northbound or Port_Binding); 404 when OVN does not know it', example: 'lsp1' })
  @ApiQuery({ name: 'role', required: false, enum: ['inport', 'outport', 'any'], description: 'With logical_port: how the port took part (default any); inport includes a tunnel arrival whose Geneve ingress key is the port, and the passes on other chassis of a packet the port sent that a router forwarded there, after their sender, marked arrivedFrom' })
  @ApiQuery({ name: 'ufid', required: false, description: 'Datapath flow UFID' })
  @ApiQuery({ name: 'logical_flow', required: false, description: 'Southbound Logical_Flow UUID cited by a step' })
  @ApiQuery({ name: 'northbound_uuid', required: false, description: 'Northbound row (ACL, NAT, …) behind a cited logical flow' })
  @ApiQuery({ name: 'datapath', required: false, description: "Logical switch or router: its name, or a UUID as the answers print it (the southbound Datapath_Binding's, as in the text form's `\"sw0\" (uuid)`, or the northbound row's, `nbUuid`); 404 for a UUID OVN does not know, an empty page for an unknown name" })
  @ApiQuery({ name: 'verdict', required: false, enum: ['output', 'drop', 'controller', 'tunnel', 'recirculate'], description: VERDICT_FILTER_DOC })
  @ApiQuery({ name: 'since', required: false, description: 'RFC 3339', example: '2026-11-27T00:00:00Z' })
  @ApiQuery({ name: 'until', required: false, description: 'RFC 3339' })
  @ApiQuery({ name: 'chassis', required: false, description: "The chassis that traced the pass. With logical_port (role any or inport): also that chassis's passes of packets the port sent from another chassis and a router forwarded there, marked arrivedFrom, where their sender would sit; such a page reads at most 1,000 of the port's rows and follows 64 links, and past that ends early (fewer than limit, maybe none) with a next cursor" })
  @ApiQuery({ name: 'session', required: false, description: 'Trace session id' })
  @ApiQuery({ name: 'include', required: false, enum: ['steps'], description: 'Add the steps to each item' })
  @ApiQuery({ name: 'limit', required: false, description: '1–500, default 50' })
  @ApiQuery({ name: 'cursor', required: false, description: 'The `next` of the previous page' })
  @ApiOkResponse({ description: '{"items": [...], "next": cursor | null}', schema: { example: TRACE_LIST_EXAMPLE } })
  async list(@Query() q: Q, @Res() res: Response): Promise<void> {
    rejectUnknown(q, LIST_PARAMS);
    const session = str(q, 'session', { max: 16, pattern: /^[1-9]\d*$/, what: 'a trace session id' });
    // The body comes back as JSON bytes (built off the event loop, traces.service.ts): sent as is,
    // with the header res.json would have set (Nest would serialise a returned Buffer as an object).
    const body = await this.traces.listJson({
      logicalPort: str(q, 'logical_port', { max: 256 }),
      role: portRole(q),
      ufid: uuid(q, 'ufid'),
      logicalFlow: uuid(q, 'logical_flow'),
      northboundUuid: uuid(q, 'northbound_uuid'),
      datapath: str(q, 'datapath', { max: 256 }),
      verdict: oneOf(q, 'verdict', ['output', 'drop', 'controller', 'tunnel', 'recirculate'] as const),
      since: time(q, 'since'),
      until: time(q, 'until'),
      chassis: str(q, 'chassis', { max: 255 }),
      sessionId: session ? pathId(session, 'session') : undefined,
      ...traceCursor(q),
      limit: limit(q),
      withSteps: includes(q, ['steps']).has('steps'),
    });
    sendJson(res, body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One annotated trace; ?format=text gives the ovn-detrace-style text' })
  @ApiParam({ name: 'id', example: 1 })
  @ApiQuery({ name: 'format', required: false, enum: ['json', 'text'] })
  @ApiOkResponse({ schema: { example: TRACE_EXAMPLE } })
  @Header('Cache-Control', 'no-store')
  get(@Param('id') idText: string, @Query() q: Q, @Res({ passthrough: true }) res: Response) {
    rejectUnknown(q, ['format']);
    const id = pathId(idText, 'id');
    if (oneOf(q, 'format', ['json', 'text'] as const) === 'text') {
      res.type('text/plain; charset=utf-8');
      return this.traces.text(id);
    }
    return this.traces.get(id);
  }
}
