import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatapathFlowStoreModule } from '../datapath-flows/datapath-flow-store.module';
import { TracesModule } from '../traces/traces.module';
import { UpcallsModule } from '../upcalls/upcalls.module';
import { IngestEventEntity } from './ingest-event.entity';
import { IngestController } from './ingest.controller';
import { IngestGate } from './ingest-gate';
import { IngestService } from './ingest.service';
import { IngestLifetimesService } from './ingest-lifetimes';
import { IngestStore } from './ingest-store';

/** External producers (USDT scripts, retis, a patched ovs-vswitchd) feeding the v1 events. */
@Module({ imports: [TypeOrmModule.forFeature([IngestEventEntity]), TracesModule, UpcallsModule, DatapathFlowStoreModule], controllers: [IngestController], providers: [IngestService, IngestLifetimesService, IngestStore, IngestGate] })
export class IngestModule {}
