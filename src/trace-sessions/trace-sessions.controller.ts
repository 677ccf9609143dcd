import { EXAMPLES } from '../openapi/examples';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { badRequest } from '../common/api-error';
import { bodyBool, bodyInt, bodyStr, object, onlyKeys } from '../common/body';
import { cursor, limit, oneOf, pathId, Query as Q, rejectUnknown } from '../common/query';
import { TraceSessionsService } from './trace-sessions.service';

/** OVS bridge names are interface names: no slashes, no spaces (its existence is checked by the service). */
function bridgeName(v: string): string {
  if (!/^[\w.-]{1,64}$/.test(v) || v === '.' || v === '..') throw badRequest('bridge', `not a bridge name: ${JSON.stringify(v.slice(0, 64))}`);
  return v;
}

/** `chassis`: one chassis name or a list of them (the agents' system-ids). */
function chassisList(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.length || list.length > 1000 || !list.every((c) => typeof c === 'string' && /^[\w.:-]{1,255}$/.test(c))) {
    throw badRequest('chassis', 'give a chassis name (its system-id) or a non-empty list of them');
  }
  return list as string[];
}

const SESSION_EXAMPLE = { bridge: 'br-int', logicalPort: 'lsp1', filter: 'tcp,tp_dst=22', maxTraces: 100, durationSeconds: 600, includeExisting: true };

@ApiTags('trace sessions')
@Controller('trace-sessions')
export class TraceSessionsController {
  constructor(private readonly sessions: TraceSessionsService) {}

  @Post()
  @ApiOperation({
    summary: 'Trace live traffic of a logical port and/or an OpenFlow match',
    description:
      'At least one of `filter` (OpenFlow match syntax: `ip,nw_src=10.0.0.1`, `tcp,tp_dst=22`, CIDR masks, `in_port=vif1`) and ' +
      '`logicalPort` (both directions: flows entering from its interface, flows towards its addresses, and their recirculations). ' +
      '`includeExisting` also traces the matching flows already installed. Every agent carries the session out (a port\'s packets ' +
        'arriving through a tunnel are matched by the port\'s key in the Geneve option); `chassis` (a name or a list) narrows it to those chassis. ' +
      'A chassis name no one knows yet (no southbound Chassis row, no agent that stored or marked anything under it) is taken, as its agent may start later, ' +
      'and named in the answer\'s `warnings` (a list of sentences, empty when none; only in this answer): the session waits for it, a typo forever. ' +
      '`maxTraces` is for all chassis together, each agent counting the others\' as of its last poll (each second): agents storing at once can pass it by what they store meanwhile.',
  })
  @ApiBody({ schema: { example: SESSION_EXAMPLE } })
  @ApiCreatedResponse({ description: 'The session, with its counters, and `warnings`: a chassis of `chassis` no one knows yet', schema: { example: { ...EXAMPLES.traceSession, warnings: [] } } })
  create(@Body() raw: unknown, @Query() q: Q) {
    rejectUnknown(q, []);
    const b = object(raw);
    onlyKeys(b, ['bridge', 'filter', 'logicalPort', 'maxTraces', 'durationSeconds', 'includeExisting', 'crossCheck', 'chassis']);
    const filter = bodyStr(b, 'filter', { max: 1024 });
    const logicalPort = bodyStr(b, 'logicalPort', { max: 256 });
    if (filter === undefined && logicalPort === undefined) throw badRequest('filter', 'give a filter, a logicalPort, or both');
    return this.sessions.create({
      bridge: bridgeName(bodyStr(b, 'bridge', { max: 64 }) ?? 'br-int'),
      filter,
      logicalPort,
      maxTraces: bodyInt(b, 'maxTraces', 1, 10_000_000),
      durationSeconds: bodyInt(b, 'durationSeconds', 1, 30 * 86400),
      includeExisting: bodyBool(b, 'includeExisting'),
      crossCheck: bodyBool(b, 'crossCheck'),
      chassis: chassisList(b.chassis),
    });
  }

  @Get()
  @ApiOperation({ summary: 'Trace sessions, newest first' })
  @ApiQuery({ name: 'state', required: false, enum: ['active', 'completed', 'expired', 'stopped'] })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'cursor', required: false })
  list(@Query() q: Q) {
    rejectUnknown(q, ['state', 'limit', 'cursor']);
    return this.sessions.list({ state: oneOf(q, 'state', ['active', 'completed', 'expired', 'stopped'] as const), cursor: cursor(q), limit: limit(q) });
  }

  @Get(':id')
  @ApiOperation({ summary: 'One session with its counters (selected, traced, stored, notSelected, dropped; droppedBy (queue_full, spool_full), failed and skipped by reason)' })
  @ApiOkResponse({ schema: { example: EXAMPLES.traceSession } })
  get(@Param('id') id: string, @Query() q: Q) {
    rejectUnknown(q, []);
    return this.sessions.get(pathId(id, 'id'));
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Stop a session (its traces stay)' })
  stop(@Param('id') id: string, @Query() q: Q) {
    rejectUnknown(q, []);
    return this.sessions.stop(pathId(id, 'id'));
  }
}
