import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { RetentionService } from './retention.service';

@Module({ imports: [MetricsModule], providers: [RetentionService], exports: [RetentionService] })
export class RetentionModule {}
