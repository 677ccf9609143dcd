import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TracesModule } from '../traces/traces.module';
import { DatapathFlowStoreModule } from './datapath-flow-store.module';
import { DatapathFlowEntity, RecircEdgeEntity } from './datapath-flow.entity';
import { DatapathFlowsController } from './datapath-flows.controller';
import { DatapathFlowsService } from './datapath-flows.service';

@Module({ imports: [TypeOrmModule.forFeature([DatapathFlowEntity, RecircEdgeEntity]), TracesModule, DatapathFlowStoreModule], controllers: [DatapathFlowsController], providers: [DatapathFlowsService] })
export class DatapathFlowsModule {}
