// One entry per configuration key: how to read it and what makes it wrong. The documented
// defaults live in config/livetrace.env; a unit test keeps the two in step.
import { parseRemote, RemoteSyntaxError } from '../ovsdb/remote';

export type Parser<T> = (raw: string) => T;

export class ConfigValueError extends Error {}

const bool: Parser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  // Empty is neither: an override left empty (an unset variable in a unit file) turned LIVETRACE_POLLER off unsaid.
  throw new ConfigValueError(v ? 'expected true or false' : 'expected true or false (empty is neither: leave the key out for its default)');
};

const int =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    if (!/^\d+$/.test(raw.trim())) throw new ConfigValueError(`expected an integer between ${min} and ${max}`);
    const n = Number(raw);
    if (n < min || n > max) throw new ConfigValueError(`expected an integer between ${min} and ${max}`);
    return n;
  };

const text: Parser<string> = (raw) => raw.trim();

const nonEmpty: Parser<string> = (raw) => {
  if (!raw.trim()) throw new ConfigValueError('must not be empty');
  return raw.trim();
};

const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw) => {
    const v = raw.trim() as T;
    if (!values.includes(v)) throw new ConfigValueError(`expected one of ${values.join(', ')}`);
    return v;
  };

/** OVSDB remotes, comma-separated; the OVSDB client's own parser decides what is valid. */
export function configRemotes(raw: string) {
  const parts = raw.split(',').map((s) => s.trim());
  if (!raw.trim() || parts.some((p) => !p)) throw new ConfigValueError('expected one or more comma-separated remotes');
  return parts.map((p) => {
    try {
      return parseRemote(p);
    } catch (err) {
      if (err instanceof RemoteSyntaxError) throw new ConfigValueError(`remote "${p}": ${err.detail}`);
      throw err;
    }
  });
}

const remotes: Parser<string> = (raw) => {
  configRemotes(raw);
  return raw.trim();
};

const host: Parser<string> = (raw) => {
  const v = raw.trim();
  if (!/^[A-Za-z0-9.:\-[\]]+$/.test(v)) throw new ConfigValueError('expected a host name or IP address');
  return v;
};

const chassis: Parser<string> = (raw) => {
  const v = raw.trim();
  if (v && !/^[\w.:-]{1,255}$/.test(v)) throw new ConfigValueError('expected a chassis name (letters, digits, . _ : -)');
  return v;
};

export const CONFIG_SCHEMA = {
  OVS_RUNDIR: nonEmpty,
  OVN_RUNDIR: nonEmpty,
  OVN_NB_DB: remotes,
  OVN_SB_DB: remotes,
  OVS_DB: remotes,
  LIVETRACE_VSWITCHD_CTL: text,
  LIVETRACE_SSL_PRIVATE_KEY: text,
  LIVETRACE_SSL_CERTIFICATE: text,
  LIVETRACE_SSL_CA_CERT: text,
  LIVETRACE_LEADER_ONLY: bool,
  LIVETRACE_OVSDB_PROBE_INTERVAL_MS: int(0, 3_600_000),
  LIVETRACE_OVSDB_MAX_BACKOFF_MS: int(1000, 3_600_000),
  LIVETRACE_OVSDB_MAX_MESSAGE_BYTES: int(1024, 8 * 1024 ** 3),
  LIVETRACE_TOMBSTONE_TTL_SECONDS: int(0, 30 * 86400),
  LIVETRACE_POLLER: bool,
  LIVETRACE_POLL_INTERVAL_MS: int(100, 3_600_000),
  LIVETRACE_POLL_SCOPE: oneOf('all', 'sessions'),
  LIVETRACE_POLL_MAX_SHARE: (raw: string) => {
    const v = Number(raw.trim());
    if (!/^\d*\.?\d+$/.test(raw.trim()) || !(v > 0 && v <= 1)) throw new ConfigValueError('expected a fraction in (0, 1], e.g. 0.05');
    return v;
  },
  LIVETRACE_TRACE_RATE: int(1, 100_000),
  LIVETRACE_TRACE_QUEUE: int(1, 10_000_000),
  LIVETRACE_TRACE_METHOD: oneOf('auto', 'detrace', 'trace'),
  LIVETRACE_RETENTION_DAYS: int(0, 36_500),
  LIVETRACE_RETENTION_ROWS: int(0, 1_000_000_000),
  // Up to 16 TiB.
  LIVETRACE_RETENTION_MAX_MB: int(0, 16_777_216),
  LIVETRACE_VLOG_FILE: text,
  LIVETRACE_VLOG_UDP: (raw: string) => {
    const v = raw.trim();
    if (v && !/^(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):\d{1,5}$/.test(v)) throw new ConfigValueError('expected HOST:PORT (e.g. 127.0.0.1:5140), or empty');
    if (v && !(Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535)) throw new ConfigValueError('port must be at most 65535');
    return v;
  },
  LIVETRACE_VLOG_SET_LEVELS: bool,
  LIVETRACE_INGEST_MAX_BYTES: int(1024, 1024 ** 3),
  LIVETRACE_INGEST_IDLE_SECONDS: int(0, 365 * 86400),
  LIVETRACE_INGEST_CONCURRENCY: int(1, 1000),
  LIVETRACE_INGEST_QUEUE: int(0, 100_000),
  LIVETRACE_INGEST_WAIT_SECONDS: int(1, 3600),
  LIVETRACE_INGEST_BODY_STALL_SECONDS: int(1, 3600),
  LIVETRACE_INGEST_BODY_SECONDS: int(1, 3600),
  LIVETRACE_DB: nonEmpty,
  LIVETRACE_SPOOL: nonEmpty,
  LIVETRACE_SPOOL_MAX_CHANGES: int(1000, 1_000_000_000),
  LIVETRACE_SHIP_BATCH: int(1, 100_000),
  LIVETRACE_SHIP_BATCH_BYTES: int(1024 ** 2, 1024 ** 3),
  LIVETRACE_PG_POOL: int(1, 1000),
  LIVETRACE_PG_MIGRATION_LOCK_TIMEOUT_MS: int(100, 600_000),
  LIVETRACE_PG_MIGRATION_ATTEMPTS: int(1, 1000),
  LIVETRACE_SQLITE_MIGRATION_WAIT_MS: int(0, 86_400_000),
  LIVETRACE_SLOT_REUSE_DAYS: int(0, 36_500),
  LIVETRACE_READ_WORKERS: (raw: string): number | 'auto' => (raw.trim() === 'auto' ? 'auto' : int(0, 64)(raw)),
  LIVETRACE_READ_WORKER_AUDITS: (raw: string): boolean | 'auto' => (raw.trim() === 'auto' ? 'auto' : bool(raw)),
  LIVETRACE_CENTRAL_RETENTION_DAYS: int(0, 36_500),
  LIVETRACE_CENTRAL_RETENTION_ROWS: int(0, 1_000_000_000),
  LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS: int(0, 87_600),
  LIVETRACE_HOST: host,
  LIVETRACE_PORT: int(1, 65535),
  LIVETRACE_CHASSIS: chassis,
  LIVETRACE_ROLE: oneOf('all', 'agent', 'api'),
  LIVETRACE_TUNNEL_SKEW_MS: int(0, 3_600_000),
  LIVETRACE_API_TOKEN: (raw: string) => {
    const v = raw.trim();
    if (v && !/^[\x21-\x7e]{16,256}$/.test(v)) throw new ConfigValueError('expected 16 to 256 printable characters without spaces');
    return v;
  },
  LIVETRACE_ALLOWED_HOSTS: (raw: string) => {
    const v = raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    if (v.some((h) => h !== '*' && !/^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/.test(h))) throw new ConfigValueError('expected host names or host:port, comma-separated, or *');
    return v;
  },
  LIVETRACE_CORS_ORIGINS: (raw: string) => {
    const v = raw.split(',').map((s) => s.trim().replace(/\/$/, '').toLowerCase()).filter(Boolean);
    if (v.some((o) => !/^https?:\/\/(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/.test(o))) throw new ConfigValueError('expected origins like https://ui.example:8443, comma-separated');
    return v;
  },
  LIVETRACE_ALLOW_INSECURE_BIND: bool,
  LIVETRACE_ONDEMAND_MAX_IN_FLIGHT: int(1, 1000),
  LIVETRACE_ONDEMAND_RATE: int(1, 100_000),
  LIVETRACE_MAX_SESSIONS: int(1, 100_000),
  LIVETRACE_OVN_TRACE: nonEmpty,
  LIVETRACE_OVN_TRACE_TIMEOUT_MS: int(100, 600_000),
  LIVETRACE_LOG_LEVEL: oneOf('trace', 'debug', 'info', 'warn', 'error', 'fatal'),
} satisfies Record<string, Parser<unknown>>;

export type ConfigKey = keyof typeof CONFIG_SCHEMA;
export type LivetraceConfig = { [K in ConfigKey]: ReturnType<(typeof CONFIG_SCHEMA)[K]> };
