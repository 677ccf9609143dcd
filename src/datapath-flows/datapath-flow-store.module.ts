import { Module } from '@nestjs/common';
import { DatapathFlowStore } from './datapath-flow-store';

/**
 * The datapath flow lifetime store alone, for its writers (the poller and vlog source in
 * collectors, ingest) and readers, without the datapath-flows routes (which need the collectors).
 */
@Module({ providers: [DatapathFlowStore], exports: [DatapathFlowStore] })
export class DatapathFlowStoreModule {}
