import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DbName, ReplicasService } from './replicas.service';

/** A database is up when its replica is a complete live copy; the details say from where and how fresh. */
@Injectable()
export class ReplicasHealthIndicator {
  constructor(
    private readonly replicas: ReplicasService,
    private readonly health: HealthIndicatorService,
  ) {}

  check(db: DbName) {
    const s = this.replicas.status(db);
    const indicator = this.health.check(`${db}_db`);
    const data = {
      database: s.database,
      remote: s.remote,
      model: s.model,
      synced: s.synced,
      lastTxnId: s.lastTxnId,
      index: s.index,
      fullDumps: s.fullDumps,
      resumes: s.resumes,
      lastUpdateAt: s.lastUpdateAt,
      rows: s.rows,
      ...(s.skipped.length ? { skipped: s.skipped } : {}),
      ...(s.lastError ? { lastError: s.lastError } : {}),
    };
    return s.synced ? indicator.up(data) : indicator.down(data);
  }
}
