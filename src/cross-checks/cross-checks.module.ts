import { Module } from '@nestjs/common';
import { CollectorsModule } from '../collectors/collectors.module';
import { TracesModule } from '../traces/traces.module';
import { AutoCrossCheckService } from './auto-cross-check.service';
import { CrossChecksController } from './cross-checks.controller';
import { CrossChecksService } from './cross-checks.service';

@Module({ imports: [TracesModule, CollectorsModule], controllers: [CrossChecksController], providers: [CrossChecksService, AutoCrossCheckService], exports: [CrossChecksService] })
export class CrossChecksModule {}
