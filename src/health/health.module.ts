import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CollectorsModule } from '../collectors/collectors.module';
import { HealthController } from './health.controller';
import { StorageHealthIndicator } from './storage.health';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), CollectorsModule],
  controllers: [HealthController],
  providers: [StorageHealthIndicator],
})
export class HealthModule {}
