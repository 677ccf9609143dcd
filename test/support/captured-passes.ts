// The captured ofproto/trace replies (test/support/captured-model.ts's runs) annotated with the
// captured NB/SB, as a tracer would store them: for specs that write traces through TraceStore.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AnnotatedTrace } from '../../src/correlation/types';
import { capturedModel, CAPTURED } from './captured-model';
import { annotateReply } from './detrace-agreement';

/** Captured passes that name a logical port, with it. */
export function capturedPasses(): Array<{ pass: AnnotatedTrace; port: string }> {
  const model = capturedModel();
  const out: Array<{ pass: AnnotatedTrace; port: string }> = [];
  for (const sc of readdirSync(CAPTURED, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    const dir = join(CAPTURED, sc.name, 'traces');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.txt') && !x.endsWith('.detrace.txt')))
      for (const pass of annotateReply(readFileSync(join(dir, f), 'utf8'), model)) if (pass.ports[0]?.logicalPort) out.push({ pass, port: pass.ports[0].logicalPort });
  }
  return out;
}
