import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ReplicasHealthIndicator } from './replicas.health';
import { ReplicasService } from './replicas.service';

@Global()
@Module({
  imports: [TerminusModule],
  providers: [ReplicasService, ReplicasHealthIndicator],
  exports: [ReplicasService, ReplicasHealthIndicator],
})
export class ReplicasModule {}
