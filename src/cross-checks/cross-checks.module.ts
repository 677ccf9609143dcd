import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CollectorsModule } from '../collectors/collectors.module';
import { PathsModule } from '../paths/paths.module';
import { TraceSessionsModule } from '../trace-sessions/trace-sessions.module';
import { TracesModule } from '../traces/traces.module';
import { AutoCrossCheckService } from './auto-cross-check.service';
import { CrossCheckEntity } from './cross-check.entity';
import { CrossChecksController } from './cross-checks.controller';
import { CrossChecksService } from './cross-checks.service';
import { CrossCheckStore } from './cross-check-store';

@Module({
  imports: [TypeOrmModule.forFeature([CrossCheckEntity]), TracesModule, CollectorsModule, TraceSessionsModule, PathsModule],
  controllers: [CrossChecksController],
  providers: [CrossChecksService, AutoCrossCheckService, CrossCheckStore],
  exports: [CrossChecksService],
})
export class CrossChecksModule {}
