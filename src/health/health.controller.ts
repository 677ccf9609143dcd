import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { ReplicasHealthIndicator } from '../replicas/replicas.health';
import { VswitchdHealthIndicator } from '../collectors/vswitchd.health';
import { StorageHealthIndicator } from './storage.health';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly storage: StorageHealthIndicator,
    private readonly replicas: ReplicasHealthIndicator,
    private readonly vswitchd: VswitchdHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'Storage and every daemon connection; 503 when one is down' })
  check() {
    return this.health.check([
      () => this.storage.check(),
      () => this.replicas.check('nb'),
      () => this.replicas.check('sb'),
      () => this.replicas.check('ovs'),
      () => this.vswitchd.check(),
    ]);
  }
}
