import { EXAMPLES } from '../openapi/examples';
import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { cursor, limit, oneOf, pathUuid, Query as Q, rejectUnknown, str } from '../common/query';
import { DatapathFlowsService } from './datapath-flows.service';

@ApiTags('datapath flows')
@Controller('datapath-flows')
export class DatapathFlowsController {
  constructor(private readonly flows: DatapathFlowsService) {}

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
  get(@Param('ufid') ufid: string, @Query() q: Q) {
    rejectUnknown(q, []);
    return this.flows.lifetimes(pathUuid(ufid, 'ufid'));
  }
}
