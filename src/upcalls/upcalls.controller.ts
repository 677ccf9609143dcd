import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { cursor, limit, oneOf, pathId, Query as Q, rejectUnknown, str, time, uuid } from '../common/query';
import { UpcallsService } from './upcalls.service';

const LIST_PARAMS = ['chassis', 'ufid', 'source', 'type', 'linked', 'logical_port', 'since', 'until', 'limit', 'cursor'];

const EXAMPLE = {
  items: [
    {
      id: 12,
      chassis: 'hv1',
      source: 'vlog',
      eventId: null,
      time: '2026-11-27T05:21:55.633Z',
      upcallType: 'miss',
      dpif: 'ovs-netdev',
      thread: 'pmd-c00/id:7',
      key: 'skb_priority(0),skb_mark(0),ct_state(0),ct_zone(0),ct_mark(0),ct_label(0),recirc_id(0),dp_hash(0),in_port(4),…,icmp(type=8,code=0)',
      packet: 'icmp,vlan_tci=0x0000,dl_src=50:54:00:00:00:01,…',
      inPort: '4',
      recircId: '0x0',
      ufid: '29330e32-048b-4506-9eb9-3cabbdaf82c2',
      megaUfid: '3acb15ae-eba6-45b1-a996-6dbef594d18f',
      flow: { key: 'recirc_id(0),in_port(4),…', actions: 'ct(zone=11,nat),recirc(0x1)' },
      datapathFlowId: 3,
      traceId: 7,
      sampled: true,
      extra: { line: 1 },
    },
  ],
  next: null,
  sampled: true,
  logSource: { enabled: true, droppedMessages: 0, upcalls: 1, droppedSpoolFull: 0, rotations: { renamed: 0, truncated: 0 } },
};

@ApiTags('upcalls')
@Controller('upcalls')
export class UpcallsController {
  constructor(private readonly upcalls: UpcallsService) {}

  @Get()
  @ApiOperation({
    summary: 'Upcalls, newest first, each with the datapath flow it installed and its trace when known',
    description:
      'From ovs-vswitchd\'s log (sampled: the log is rate-limited, and `logSource.droppedMessages` counts what vswitchd said it dropped; `logSource.droppedSpoolFull` those read while the spool was full and not stored) ' +
      'or ingested (POST /ingest/events, retis). `sampled: true` when the list comes from a sampling source.',
  })
  @ApiQuery({ name: 'chassis', required: false })
  @ApiQuery({ name: 'ufid', required: false, description: 'UFID of the datapath flow the upcall installed' })
  @ApiQuery({ name: 'source', required: false, description: 'vlog, or an ingest source name (retis, …)' })
  @ApiQuery({ name: 'type', required: false, enum: ['miss', 'action', 'exec', 'unspec'] })
  @ApiQuery({ name: 'linked', required: false, enum: ['true', 'false'], description: 'Only upcalls linked (or not) to the flow they installed' })
  @ApiQuery({ name: 'logical_port', required: false, description: 'Logical port a trace of the installed flow touched', example: 'lsp1' })
  @ApiQuery({ name: 'since', required: false, description: 'RFC 3339' })
  @ApiQuery({ name: 'until', required: false, description: 'RFC 3339' })
  @ApiQuery({ name: 'limit', required: false, description: '1–500, default 50' })
  @ApiQuery({ name: 'cursor', required: false, description: 'The `next` of the previous page' })
  @ApiOkResponse({ description: '{"items": [...], "next": cursor | null, "sampled": bool, "logSource": {...}}', schema: { example: EXAMPLE } })
  list(@Query() q: Q) {
    rejectUnknown(q, LIST_PARAMS);
    const linked = oneOf(q, 'linked', ['true', 'false'] as const);
    return this.upcalls.list({
      chassis: str(q, 'chassis', { max: 255 }),
      ufid: uuid(q, 'ufid'),
      source: str(q, 'source', { max: 64 }),
      upcallType: oneOf(q, 'type', ['miss', 'action', 'exec', 'unspec'] as const),
      linked: linked === undefined ? undefined : linked === 'true',
      logicalPort: str(q, 'logical_port', { max: 256 }),
      since: time(q, 'since'),
      until: time(q, 'until'),
      cursor: cursor(q),
      limit: limit(q),
    });
  }

  @Get(':id')
  @ApiOperation({ summary: 'One upcall' })
  @ApiParam({ name: 'id', description: 'Upcall id' })
  get(@Param('id') id: string, @Query() q: Q) {
    rejectUnknown(q, []);
    return this.upcalls.get(pathId(id, 'id'));
  }
}
