// `GET /traces/stream`: the controller is listed before TracesController in TracesModule, so that
// `/traces/stream` is this route and not `GET /traces/:id` with id "stream".
import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags, ApiHeader } from '@nestjs/swagger';
import type { Response } from 'express';
import { badRequest } from '../common/api-error';
import { oneOf, Query as Q, rejectUnknown, str } from '../common/query';
import { TraceStreamService } from './trace-stream.service';

@ApiTags('traces')
@Controller('traces')
export class TraceStreamController {
  constructor(private readonly streams: TraceStreamService) {}

  @Get('stream')
  @ApiOperation({
    summary: 'Stored traces as server-sent events, as they are committed',
    description:
      'Each event is `event: trace`, `id: <trace id>`, `data: <the item of GET /traces>` as it was when committed (the path-scope logicalPorts of a pass grow as the later passes of its path are traced), oldest first. Starts after the newest matching trace, or after `Last-Event-ID` (a reconnecting EventSource sends it). `event: gap` says a resume skipped traces (more than 500); a comment line every 15 s keeps the connection open. At most 32 streams (503).',
  })
  @ApiQuery({ name: 'logical_port', required: false, example: 'lsp1' })
  @ApiQuery({ name: 'role', required: false, enum: ['inport', 'outport', 'any'], description: "With logical_port, role any or inport: also the passes on another chassis of a packet the port sent that a router forwarded there, marked arrivedFrom, when stored after their sender (or within 5 s before it)" })
  @ApiQuery({ name: 'verdict', required: false, enum: ['output', 'drop', 'controller', 'tunnel', 'recirculate'] })
  @ApiQuery({ name: 'chassis', required: false })
  @ApiQuery({ name: 'session', required: false, description: 'Trace session id' })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this trace id' })
  @ApiOkResponse({ description: 'text/event-stream' })
  async stream(@Query() q: Q, @Headers('last-event-id') lastEventId: string | undefined, @Res() res: Response): Promise<void> {
    rejectUnknown(q, ['logical_port', 'role', 'verdict', 'chassis', 'session']);
    const session = str(q, 'session', { max: 16, pattern: /^[1-9]\d*$/, what: 'a trace session id' });
    if (lastEventId !== undefined && !/^\d{1,15}$/.test(lastEventId)) throw badRequest('last-event-id', `must be a trace id (got ${JSON.stringify(lastEventId.slice(0, 64))})`);
    await this.streams.start(
      {
        logicalPort: str(q, 'logical_port', { max: 256 }),
        role: oneOf(q, 'role', ['inport', 'outport', 'any'] as const),
        verdict: oneOf(q, 'verdict', ['output', 'drop', 'controller', 'tunnel', 'recirculate'] as const),
        chassis: str(q, 'chassis', { max: 255 }),
        sessionId: session ? Number(session) : undefined,
      },
      lastEventId === undefined ? undefined : Number(lastEventId),
      res,
    );
  }
}
