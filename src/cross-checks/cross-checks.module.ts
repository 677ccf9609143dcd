import { Module } from '@nestjs/common';
import { TracesModule } from '../traces/traces.module';
import { CrossChecksController } from './cross-checks.controller';
import { CrossChecksService } from './cross-checks.service';

@Module({ imports: [TracesModule], controllers: [CrossChecksController], providers: [CrossChecksService], exports: [CrossChecksService] })
export class CrossChecksModule {}
