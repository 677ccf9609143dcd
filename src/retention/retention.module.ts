import { Module } from '@nestjs/common';
import { DatapathFlowStoreModule } from '../datapath-flows/datapath-flow-store.module';
import { MetricsModule } from '../metrics/metrics.module';
import { PathsModule } from '../paths/paths.module';
import { TracesModule } from '../traces/traces.module';
import { CrossCheckStore } from '../cross-checks/cross-check-store';
import { UpcallStore } from '../upcalls/upcall-store';
import { IngestStore } from '../ingest/ingest-store';
import { RetentionService } from './retention.service';

@Module({ imports: [MetricsModule, TracesModule, PathsModule, DatapathFlowStoreModule], providers: [RetentionService, UpcallStore, CrossCheckStore, IngestStore], exports: [RetentionService] })
export class RetentionModule {}
