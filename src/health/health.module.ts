import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CollectorsModule } from '../collectors/collectors.module';
import { HealthController } from './health.controller';
import { CentralHealthIndicator } from './central.health';
import { StorageHealthIndicator } from './storage.health';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), CollectorsModule],
  controllers: [HealthController],
  providers: [StorageHealthIndicator, CentralHealthIndicator],
})
export class HealthModule {}
