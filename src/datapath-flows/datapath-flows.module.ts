import { Module } from '@nestjs/common';
import { TracesModule } from '../traces/traces.module';
import { DatapathFlowStoreModule } from './datapath-flow-store.module';
import { DatapathFlowsController } from './datapath-flows.controller';
import { DatapathFlowsService } from './datapath-flows.service';

@Module({ imports: [TracesModule, DatapathFlowStoreModule], controllers: [DatapathFlowsController], providers: [DatapathFlowsService] })
export class DatapathFlowsModule {}
