import { Controller, Get, Inject, Req, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import type { Request } from 'express';
import { tokenMatches } from '../common/http-edge';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { ReplicasHealthIndicator } from '../replicas/replicas.health';
import { VswitchdHealthIndicator } from '../collectors/vswitchd.health';
import { CentralHealthIndicator } from './central.health';
import { StorageHealthIndicator } from './storage.health';

/**
 * The full report (database file, socket paths, pids, last errors) only to whoever holds the token,
 * or, with no token configured, to loopback clients; everyone else sees each part's up/down alone:
 * enough for a load balancer's probe, nothing to map the host with.
 */
export function publicReport(r: HealthCheckResult): HealthCheckResult {
  const strip = (m: HealthCheckResult['info']) => (m ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { status: v?.status ?? 'down' }])) : m);
  return { status: r.status, info: strip(r.info), error: strip(r.error), details: strip(r.details)! };
}

const LOOPBACK_PEER = /^(127\.|::1$|::ffff:127\.)/;

@ApiTags('operations')
@Controller('health')
export class HealthController {
  private readonly token: Buffer | null;

  constructor(
    private readonly health: HealthCheckService,
    private readonly storage: StorageHealthIndicator,
    private readonly central: CentralHealthIndicator,
    private readonly replicas: ReplicasHealthIndicator,
    private readonly vswitchd: VswitchdHealthIndicator,
    @Inject(LIVETRACE_CONFIG) config: LivetraceConfig,
  ) {
    this.token = config.LIVETRACE_API_TOKEN ? Buffer.from(config.LIVETRACE_API_TOKEN) : null;
    // An api instance reads the shared store and the central NB/SB: it has no switch of its own.
    this.local = config.LIVETRACE_ROLE !== 'api';
  }

  private readonly local: boolean;

  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'Storage and every daemon connection; 503 when one is down. Details (paths, pids, errors) need the token (or loopback without one)' })
  async check(@Req() req: Request) {
    const full = this.token ? tokenMatches(req.headers.authorization, this.token) : LOOPBACK_PEER.test(req.socket.remoteAddress ?? '');
    try {
      const r = await this.health.check([
        () => this.storage.check(),
        ...(this.central.enabled ? [() => this.central.check()] : []),
        () => this.replicas.check('nb'),
        () => this.replicas.check('sb'),
        ...(this.local ? [() => this.replicas.check('ovs'), () => this.vswitchd.check()] : []),
      ]);
      return full ? r : publicReport(r);
    } catch (err) {
      if (!full && err instanceof ServiceUnavailableException) throw new ServiceUnavailableException(publicReport(err.getResponse() as HealthCheckResult));
      throw err;
    }
  }
}
