import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TracesController } from './traces.controller';
import { TracesService } from './traces.service';
import { TraceStore } from './trace-store';
import { LogicalFlowSnapshotEntity, LogicalPortAliasEntity, OfRuleEntity, OvnObjectEntity, TraceCitationEntity, TraceEntity, TraceExtraSessionEntity, TracePortEntity } from './trace.entity';
import { TraceStreamController } from './trace-stream.controller';
import { TraceStreamService } from './trace-stream.service';

// TraceStreamController first: its `GET /traces/stream` must be matched before `GET /traces/:id`.
@Module({
  imports: [TypeOrmModule.forFeature([TraceEntity, TracePortEntity, TraceExtraSessionEntity, TraceCitationEntity, LogicalPortAliasEntity, OfRuleEntity, LogicalFlowSnapshotEntity, OvnObjectEntity])],
  controllers: [TraceStreamController, TracesController],
  providers: [TracesService, TraceStreamService, TraceStore],
  exports: [TracesService, TraceStreamService, TraceStore],
})
export class TracesModule {}
