import { Module } from '@nestjs/common';
import { LogicalFlowsController } from './logical-flows.controller';
import { LogicalFlowsService } from './logical-flows.service';
import { LogicalFlowStore } from './logical-flow-store';

@Module({ controllers: [LogicalFlowsController], providers: [LogicalFlowsService, LogicalFlowStore], exports: [LogicalFlowsService] })
export class LogicalFlowsModule {}
