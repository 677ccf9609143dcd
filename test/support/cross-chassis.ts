// The cross-chassis reader of a one-chassis service (LIVETRACE_ROLE=all) over a store, for tests
// that build PathsService by hand: the southbound Encap rows given (none by default), default skew.
import type { LivetraceConfig } from '../../src/config/config.schema';
import type { MetricsService } from '../../src/metrics/metrics.service';
import { CrossChassisPaths } from '../../src/paths/cross-chassis';
import type { PathStore } from '../../src/paths/path-store';
import type { ReplicasService } from '../../src/replicas/replicas.service';

export function oneChassis(store: PathStore, config: Partial<LivetraceConfig> = {}, encap: Record<string, string> = {}, metrics?: MetricsService): CrossChassisPaths {
  // The southbound Encap table: chassis name → encap IP.
  const sb = { find: (_t: string, _c: string, ip: string) => Object.entries(encap).filter(([, v]) => v === ip).map(([chassis_name]) => ({ chassis_name, ip })) };
  return new CrossChassisPaths(store, { sb } as unknown as ReplicasService, { LIVETRACE_ROLE: 'all', LIVETRACE_TUNNEL_SKEW_MS: 1000, ...config } as LivetraceConfig, metrics);
}
