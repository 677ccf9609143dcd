import { Module } from '@nestjs/common';
import { CollectorsModule } from '../collectors/collectors.module';
import { TracesModule } from '../traces/traces.module';
import { DatapathFlowsController } from './datapath-flows.controller';
import { DatapathFlowsService } from './datapath-flows.service';

@Module({ imports: [CollectorsModule, TracesModule], controllers: [DatapathFlowsController], providers: [DatapathFlowsService] })
export class DatapathFlowsModule {}
