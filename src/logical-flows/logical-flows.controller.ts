import { EXAMPLES } from '../openapi/examples';
import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { badRequest } from '../common/api-error';
import { cursor, limit, pathUuid, Query as Q, rejectUnknown } from '../common/query';
import { sendJson } from '../common/send-json';
import { LogicalFlowsService, NB_TABLES } from './logical-flows.service';

@ApiTags('audit')
@Controller()
export class LogicalFlowsController {
  constructor(private readonly lflows: LogicalFlowsService) {}

  @Get('logical-flows/:uuid')
  @ApiOperation({ summary: 'A southbound logical flow: its current row (or tombstone) and every version a trace cited' })
  @ApiOkResponse({ schema: { example: EXAMPLES.logicalFlow } })
  get(@Param('uuid') uuid: string, @Query() q: Q) {
    rejectUnknown(q, []);
    return this.lflows.get(pathUuid(uuid, 'uuid'));
  }

  @Get('logical-flows/:uuid/datapath-flows')
  @ApiOperation({ summary: 'The audit: datapath flows this logical flow took part in, with the traces and their verdicts' })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiOkResponse({ schema: { example: EXAMPLES.logicalFlowAudit } })
  async flows(@Param('uuid') uuid: string, @Query() q: Q, @Res() res: Response): Promise<void> {
    rejectUnknown(q, ['limit', 'cursor']);
    sendJson(res, await this.lflows.datapathFlowsJson(pathUuid(uuid, 'uuid'), cursor(q), limit(q)));
  }

  @Get('northbound/:table/:uuid/datapath-flows')
  @ApiOperation({ summary: 'The audit of a northbound object (ACL, NAT, Load_Balancer, …): which live traffic it allowed, dropped or changed' })
  @ApiParam({ name: 'table', enum: NB_TABLES })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiOkResponse({ schema: { example: EXAMPLES.northboundAudit } })
  async northbound(@Param('table') table: string, @Param('uuid') uuid: string, @Query() q: Q, @Res() res: Response): Promise<void> {
    rejectUnknown(q, ['limit', 'cursor']);
    if (!(NB_TABLES as readonly string[]).includes(table)) throw badRequest('table', `must be one of ${NB_TABLES.join(', ')} (got ${JSON.stringify(table.slice(0, 64))})`);
    sendJson(res, await this.lflows.northboundFlowsJson(table, pathUuid(uuid, 'uuid'), cursor(q), limit(q)));
  }
}
