// What each LIVETRACE_ROLE runs and answers (issue 19: an agent on every hypervisor, one shared
// database, API instances that read every chassis's rows). `all` is the one-chassis service.
import type { LivetraceConfig } from './config.schema';

export type Role = LivetraceConfig['LIVETRACE_ROLE'];

/**
 * The configuration the modules see for this role. An `api` instance has no vswitchd of its own and
 * must not write into the agents' rows: its poller, vlog source, ingest sweep and retention are
 * turned off here, where every one of them already reads its switch, rather than taught about roles.
 */
export function roleConfig(config: LivetraceConfig): LivetraceConfig {
  if (config.LIVETRACE_ROLE !== 'api') return config;
  return {
    ...config,
    LIVETRACE_POLLER: false,
    LIVETRACE_VLOG_FILE: '',
    LIVETRACE_VLOG_UDP: '',
    LIVETRACE_INGEST_IDLE_SECONDS: 0,
    LIVETRACE_RETENTION_DAYS: 0,
    LIVETRACE_RETENTION_ROWS: 0,
    LIVETRACE_RETENTION_MAX_MB: 0,
  };
}

const AGENT_ROUTES = ['/health', '/metrics'];
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
/**
 * The writes an api instance makes: a trace session is a request the agents poll for and carry out,
 * not a source, so creating and stopping one is the api's. Everything else that writes (an ingest, a
 * trace of a local flow, a cross-check) needs a vswitchd, or feeds the agents' rows, and stays theirs.
 */
const API_WRITES: Array<[string, RegExp]> = [
  ['POST', /^\/trace-sessions$/],
  ['DELETE', /^\/trace-sessions\/[^/]+$/],
];

/**
 * Whether this role answers the request, or why not. An agent's public API is its health and
 * metrics (the queries are the api instances'); an api instance serves reads and API_WRITES.
 */
export function roleRefuses(role: Role, method: string, path: string): string | null {
  const p = path.split('?')[0].replace(/\/+$/, '') || '/';
  // Read as Express routes (no case-sensitive routing): matched by case, /Metrics was refused on an
  // agent and POST /TRACE-SESSIONS on an api instance, both served by the router behind.
  const route = p.toLowerCase();
  if (role === 'agent' && !AGENT_ROUTES.some((r) => route === r || route.startsWith(`${r}/`))) {
    return `LIVETRACE_ROLE=agent answers only ${AGENT_ROUTES.join(' and ')}: ask an api instance for ${p}`;
  }
  const m = method.toUpperCase();
  if (role === 'api' && !READS.has(m) && !API_WRITES.some(([wm, re]) => wm === m && re.test(route))) {
    return `LIVETRACE_ROLE=api only reads (and creates and stops trace sessions): ${m} ${p} is an agent's (or LIVETRACE_ROLE=all)`;
  }
  return null;
}
