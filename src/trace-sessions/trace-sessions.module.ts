import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PathsModule } from '../paths/paths.module';
import { TracesModule } from '../traces/traces.module';
import { TraceSessionCounterEntity } from './trace-session-counter.entity';
import { TraceSessionEntity } from './trace-session.entity';
import { TraceSessionsController } from './trace-sessions.controller';
import { TraceSessionsService } from './trace-sessions.service';
import { TraceSessionStore } from './trace-session-store';

/** Trace sessions: what live traffic to trace; the tracer (collectors) asks them which flows they want. */
@Module({
  imports: [TypeOrmModule.forFeature([TraceSessionEntity, TraceSessionCounterEntity]), PathsModule, TracesModule],
  controllers: [TraceSessionsController],
  providers: [TraceSessionsService, TraceSessionStore],
  exports: [TraceSessionsService],
})
export class TraceSessionsModule {}
