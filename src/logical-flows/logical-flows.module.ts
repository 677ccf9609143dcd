import { Module } from '@nestjs/common';
import { LogicalFlowsController } from './logical-flows.controller';
import { LogicalFlowsService } from './logical-flows.service';

@Module({ controllers: [LogicalFlowsController], providers: [LogicalFlowsService] })
export class LogicalFlowsModule {}
