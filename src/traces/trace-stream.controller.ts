// `GET /traces/stream`: the controller is listed before TracesController in TracesModule, so that
// `/traces/stream` is this route and not `GET /traces/:id` with id "stream".
import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags, ApiHeader } from '@nestjs/swagger';
import type { Response } from 'express';
import { badRequest } from '../common/api-error';
import { oneOf, pathId, Query as Q, rejectUnknown, str } from '../common/query';
import { MAX_LISTED_SLOTS, MAX_RESUME_SLOTS, parseResumePoint } from './stream-position';
import { MAX_SLOTS_A_POLL, TraceStreamService } from './trace-stream.service';
import { VERDICT_FILTER_DOC } from './trace-record';
import { portRole } from './traces.controller';

@ApiTags('traces')
@Controller('traces')
export class TraceStreamController {
  constructor(private readonly streams: TraceStreamService) {}

  @Get('stream')
  @ApiOperation({
    summary: 'Stored traces as server-sent events, as they are committed',
    description:
      'Each event is `event: trace`, `id: <position>`, `data: <the item of GET /traces>` as it was when committed (the path-scope logicalPorts of a pass grow as the later passes of its path are traced), oldest first. ' +
      'The position is where the stream stands in every writer slot: on SQLite one slot, so the trace id; with PostgreSQL each agent and api instance writes its own id range (a slot) and ids order commits only within one, so the position is the highest id sent (or started after) in each slot that holds traces, comma-separated, e.g. `0,1099511627901,2199023255620` (`0` first: every slot not named is new). ' +
      `Past ${MAX_LISTED_SLOTS} slots holding traces it stays bounded: \`t<ms>\` and at most ${MAX_LISTED_SLOTS} such ids, e.g. \`t1796439595000,1099511627901\`: the named slots resume after their ids, every other from its traces at or after that trace time (a reorder window before the stream last found itself caught up in them; a few seconds of them may come again). ` +
      'Starts after each slot\'s newest trace, or after `Last-Event-ID` (a reconnecting client sends the last position back): every slot\'s traces since, once; a plain trace id resumes its slot after it and every other slot from that trace\'s time, 5 s earlier (some may come again). ' +
      `Between slots, events are ordered by trace time. \`event: gap\` says a resume skipped traces of a slot (more than 500); a comment line every 15 s keeps the connection open; a client that has not read what was sent to it within 60 s is disconnected (it resumes by Last-Event-ID). Each tick walks at most ${MAX_SLOTS_A_POLL} slots a stream (the rest at the next). At most 32 streams (503).`,
  })
  @ApiQuery({ name: 'logical_port', required: false, example: 'lsp1' })
  @ApiQuery({ name: 'role', required: false, enum: ['inport', 'outport', 'any'], description: "With logical_port, role any or inport: also the passes on another chassis of a packet the port sent that a router forwarded there, marked arrivedFrom, when stored after their sender (or within 5 s before it)" })
  @ApiQuery({ name: 'verdict', required: false, enum: ['output', 'drop', 'controller', 'tunnel', 'recirculate'], description: VERDICT_FILTER_DOC })
  @ApiQuery({ name: 'chassis', required: false })
  @ApiQuery({ name: 'session', required: false, description: 'Trace session id' })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: `Resume after this position (an event's id) or trace id: trace ids, comma-separated, one a writer slot (at most ${MAX_RESUME_SLOTS}), or t<ms> then at most ${MAX_LISTED_SLOTS} of them` })
  @ApiOkResponse({ description: 'text/event-stream' })
  async stream(@Query() q: Q, @Headers('last-event-id') lastEventId: string | undefined, @Res() res: Response): Promise<void> {
    rejectUnknown(q, ['logical_port', 'role', 'verdict', 'chassis', 'session']);
    const session = str(q, 'session', { max: 16, pattern: /^[1-9]\d*$/, what: 'a trace session id' });
    const resume = lastEventId === undefined ? undefined : parseResumePoint(lastEventId);
    if (typeof resume === 'string') throw badRequest('last-event-id', resume);
    await this.streams.start(
      {
        logicalPort: str(q, 'logical_port', { max: 256 }),
        role: portRole(q),
        verdict: oneOf(q, 'verdict', ['output', 'drop', 'controller', 'tunnel', 'recirculate'] as const),
        chassis: str(q, 'chassis', { max: 255 }),
        sessionId: session ? pathId(session, 'session') : undefined,
      },
      resume,
      res,
    );
  }
}
