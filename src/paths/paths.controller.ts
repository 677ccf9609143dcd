import { EXAMPLES } from '../openapi/examples';
import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { includes, pathId, Query as Q, rejectUnknown } from '../common/query';
import { PathsService } from './paths.service';

@ApiTags('traces')
@Controller('paths')
export class PathsController {
  constructor(private readonly paths: PathsService) {}

  @Get(':id')
  @ApiOperation({ summary: "The passes of one packet in order, linked by recirculation edges, with the path's final verdict" })
  @ApiQuery({ name: 'include', required: false, enum: ['steps'] })
  @ApiOkResponse({ schema: { example: EXAMPLES.path } })
  get(@Param('id') id: string, @Query() q: Q) {
    rejectUnknown(q, ['include']);
    return this.paths.get(pathId(id, 'id'), includes(q, ['steps']).has('steps'));
  }
}
