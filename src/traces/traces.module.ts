import { Module } from '@nestjs/common';
import { TracesController } from './traces.controller';
import { TracesService } from './traces.service';
import { TraceStore } from './trace-store';
import { TraceStreamController } from './trace-stream.controller';
import { TraceStreamService } from './trace-stream.service';

// TraceStreamController first: its `GET /traces/stream` must be matched before `GET /traces/:id`.
@Module({ controllers: [TraceStreamController, TracesController], providers: [TracesService, TraceStreamService, TraceStore], exports: [TracesService, TraceStore] })
export class TracesModule {}
