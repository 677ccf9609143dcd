// Keeps live replicas of the northbound, southbound and local Open_vSwitch databases for the
// rest of the service. Starting never waits for a database: each follower reconnects on its own,
// and /health says which one is not synced yet.
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { hostname } from 'node:os';
import { Counter, Gauge } from 'prom-client';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { MetricsService } from '../metrics/metrics.service';
import { TlsFiles } from '../ovsdb/remote';
import { FollowerStatus, ReplicaFollower } from '../ovsdb/replica/follower';
import { Replica, ReplicaSpec } from '../ovsdb/replica/replica';
import { OvnModel } from '../ovn/ovn-model';
import { NORTHBOUND, OPEN_VSWITCH, SOUTHBOUND } from './ovn-tables';

export type DbName = 'nb' | 'sb' | 'ovs';

const DATABASES: Record<DbName, { name: string; spec: ReplicaSpec; key: 'OVN_NB_DB' | 'OVN_SB_DB' | 'OVS_DB' }> = {
  nb: { name: 'OVN_Northbound', spec: NORTHBOUND, key: 'OVN_NB_DB' },
  sb: { name: 'OVN_Southbound', spec: SOUTHBOUND, key: 'OVN_SB_DB' },
  ovs: { name: 'Open_vSwitch', spec: OPEN_VSWITCH, key: 'OVS_DB' },
};

@Injectable()
export class ReplicasService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('Replicas');
  readonly followers: Record<DbName, ReplicaFollower>;
  /** The OVN model over the replicas (cookie owners, hints, ports), kept current by their changes. */
  readonly model: OvnModel;

  constructor(
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    metrics: MetricsService,
  ) {
    const tls: TlsFiles | undefined = config.LIVETRACE_SSL_PRIVATE_KEY
      ? { privateKey: config.LIVETRACE_SSL_PRIVATE_KEY, certificate: config.LIVETRACE_SSL_CERTIFICATE, caCert: config.LIVETRACE_SSL_CA_CERT }
      : undefined;
    const make = (db: DbName) => {
      const d = DATABASES[db];
      const replica = new Replica(d.name, d.spec, { tombstoneTtlMs: config.LIVETRACE_TOMBSTONE_TTL_SECONDS * 1000 });
      const follower = new ReplicaFollower(replica, {
        remotes: config[d.key],
        tls,
        leaderOnly: config.LIVETRACE_LEADER_ONLY,
        backoffMaxMs: config.LIVETRACE_OVSDB_MAX_BACKOFF_MS,
        // 0 disables the probe (config/livetrace.env); the session probes tcp:/ssl: only.
        probeIntervalMs: config.LIVETRACE_OVSDB_PROBE_INTERVAL_MS,
        maxMessageBytes: config.LIVETRACE_OVSDB_MAX_MESSAGE_BYTES,
        requestTimeoutMs: 120_000,
      });
      replica.on('skipped', (what) => this.log.log(`${d.name}: the server's schema has no ${what}; skipped`));
      follower.on('log', (level, msg) => (level === 'warn' ? this.log.warn(msg) : this.log.log(msg)));
      follower.on('unsynced', (reason) => this.log.warn(`${d.name}: not synced: ${reason}`));
      return follower;
    };
    this.followers = { nb: make('nb'), sb: make('sb'), ovs: make('ovs') };
    this.model = new OvnModel({ nb: this.nb, sb: this.sb, ovs: this.ovs });
    this.registerMetrics(metrics);
  }

  get nb(): Replica {
    return this.followers.nb.replica;
  }
  get sb(): Replica {
    return this.followers.sb.replica;
  }
  get ovs(): Replica {
    return this.followers.ovs.replica;
  }

  onModuleInit(): void {
    for (const f of Object.values(this.followers)) f.start();
  }

  onApplicationShutdown(): void {
    this.model.dispose();
    for (const f of Object.values(this.followers)) f.close();
  }

  status(db: DbName): FollowerStatus {
    return this.followers[db].getStatus();
  }

  /** Resolves once the three replicas hold complete copies (or after timeoutMs). */
  async waitSynced(timeoutMs = 30_000): Promise<boolean> {
    // Each follower's wait ends (and drops its listener) at the deadline: a race against a timer
    // left every timed-out call's listeners on the followers for as long as a database was down.
    const synced = await Promise.all(Object.values(this.followers).map((f) => f.waitSynced(timeoutMs)));
    return synced.every(Boolean);
  }

  /** This chassis's name: LIVETRACE_CHASSIS, else the local Open_vSwitch external_ids:system-id. */
  chassisName(): string | undefined {
    if (this.config.LIVETRACE_CHASSIS) return this.config.LIVETRACE_CHASSIS;
    for (const row of this.ovs.rows('Open_vSwitch')) {
      const id = (row.external_ids as Record<string, string>)['system-id'];
      if (id) return id;
    }
    return undefined;
  }

  /** The local Open_vSwitch row's other_config `key` (vswitchd's settings), or undefined: not set, or not synced yet. */
  ovsOtherConfig(key: string): string | undefined {
    for (const row of this.ovs.rows('Open_vSwitch')) {
      const value = (row.other_config as Record<string, string> | undefined)?.[key];
      if (value !== undefined) return value;
    }
    return undefined;
  }

  private registerMetrics(metrics: MetricsService): void {
    const reg = [metrics.registry];
    const each = (fn: (db: DbName, s: FollowerStatus) => void) => {
      for (const db of Object.keys(this.followers) as DbName[]) fn(db, this.status(db));
    };
    new Gauge({
      name: 'livetrace_ovsdb_synced',
      help: '1 when the replica holds a complete, live copy of the database',
      labelNames: ['db'],
      registers: reg,
      collect() {
        each((db, s) => this.set({ db }, s.synced ? 1 : 0));
      },
    });
    new Gauge({
      name: 'livetrace_ovsdb_rows',
      help: 'Rows per replicated table',
      labelNames: ['db', 'table'],
      registers: reg,
      collect() {
        each((db, s) => Object.entries(s.rows).forEach(([table, n]) => this.set({ db, table }, n)));
      },
    });
    new Gauge({
      name: 'livetrace_ovsdb_update_age_seconds',
      help: 'Seconds since the replica last applied an update from its server (replica lag when the database is busy)',
      labelNames: ['db'],
      registers: reg,
      collect() {
        each((db, s) => s.lastUpdateAt && this.set({ db }, (Date.now() - Date.parse(s.lastUpdateAt)) / 1000));
      },
    });
    const counter = (name: string, help: string, pick: (s: FollowerStatus) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['db'],
        registers: reg,
        collect() {
          // Counters mirror the follower's own monotonic counts.
          this.reset();
          each((db, s) => this.inc({ db }, pick(s)));
        },
      });
    counter('livetrace_ovsdb_updates_total', 'Update notifications applied', (s) => s.updatesApplied);
    counter('livetrace_ovsdb_row_changes_total', 'Rows inserted, modified or deleted in the replica', (s) => s.rowsChanged);
    counter('livetrace_ovsdb_full_dumps_total', 'Full copies received (initial sync or resync)', (s) => s.fullDumps);
    counter('livetrace_ovsdb_resumes_total', 'Reconnects resumed with monitor_cond_since without a full copy', (s) => s.resumes);
  }
}

/**
 * This chassis's name once it can be told: chassisName(), else the hostname once the local OVS
 * database is synced with no system-id in it; undefined until then (no fallback on a timer: a name
 * taken before the database answered would not be the one the previous run's rows are under, and
 * those would stay open for good). What a collector continues from the store is the rows of this
 * name only: agents of several chassis may write one SQLite file.
 */
export function settledChassisName(replicas: Pick<ReplicasService, 'chassisName' | 'status'>): string | undefined {
  const name = replicas.chassisName();
  if (name !== undefined) return name;
  return replicas.status('ovs').synced ? hostname() : undefined;
}
