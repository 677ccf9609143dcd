// The captured ovn-trace replies of the debian12 pair (every scenario's traces/*.txt), each
// annotated with the captured NB/SB as the tracer annotates a live one: the real traces the
// retention specs fill a store with (SQLite: test/integration/storage/retention; PostgreSQL:
// test/postgres/central-retention).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AnnotatedTrace } from '../../src/correlation/types';
import { capturedModel, CAPTURED } from './captured-model';
import { annotateReply } from './detrace-agreement';

/** One entry a reply (a packet), its passes in order; replies without a pass are left out. */
export function capturedReplies(): AnnotatedTrace[][] {
  const model = capturedModel();
  const out: AnnotatedTrace[][] = [];
  for (const sc of readdirSync(CAPTURED, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    const dir = join(CAPTURED, sc.name, 'traces');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.txt') && !x.endsWith('.detrace.txt'))) out.push(annotateReply(readFileSync(join(dir, f), 'utf8'), model));
  }
  return out.filter((r) => r.length);
}
