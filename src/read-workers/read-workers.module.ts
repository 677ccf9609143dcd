import { Module } from '@nestjs/common';
import { LogicalFlowsModule } from '../logical-flows/logical-flows.module';
import { TracesModule } from '../traces/traces.module';
import { ReadWorkersService } from './read-workers.service';

@Module({ imports: [TracesModule, LogicalFlowsModule], providers: [ReadWorkersService], exports: [ReadWorkersService] })
export class ReadWorkersModule {}
