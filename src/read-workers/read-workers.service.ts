import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { LIVETRACE_CONFIG } from '../config/config.module';
import type { LivetraceConfig } from '../config/config.schema';
import { LogicalFlowsService } from '../logical-flows/logical-flows.service';
import { StoreService } from '../storage/store.service';
import { TracesService } from '../traces/traces.service';
import { auditsInThreads, ReadPool } from './read-pool';

/**
 * The process's reader threads, owned here and lent to the two features whose reads they run: with
 * none (':memory:', LIVETRACE_READ_WORKERS=0, an agent's auto) both read on the event loop, and so
 * do the audits with LIVETRACE_READ_WORKER_AUDITS off (auto: off on PostgreSQL, read-pool.ts).
 */
@Injectable()
export class ReadWorkersService implements OnModuleDestroy {
  readonly pool?: ReadPool;

  constructor(storage: StoreService, @Inject(LIVETRACE_CONFIG) config: LivetraceConfig, traces: TracesService, lflows: LogicalFlowsService) {
    this.pool = ReadPool.open(storage, config);
    if (!this.pool) return;
    traces.useReader(this.pool);
    if (auditsInThreads(config, Boolean(storage.central))) lflows.useReader(this.pool);
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool?.close();
  }
}
