import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatapathFlowStore } from './datapath-flow-store';
import { DatapathFlowEntity, RecircEdgeEntity } from './datapath-flow.entity';

/**
 * The lifetime tables and their store, without the datapath-flows routes: what the writers (the
 * poller and vlog source in collectors, ingest) and the other readers import.
 */
@Module({ imports: [TypeOrmModule.forFeature([DatapathFlowEntity, RecircEdgeEntity])], providers: [DatapathFlowStore], exports: [DatapathFlowStore] })
export class DatapathFlowStoreModule {}
