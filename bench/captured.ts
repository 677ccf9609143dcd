// The datapath flow lines captured from real daemons (scripts/capture-fixtures writes them to
// test/fixtures/captured/*/dump-flows.txt): what the parse and live benches repeat and vary.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CAPTURED = join(__dirname, '../test/fixtures/captured');

export function capturedDumpLines(): string[] {
  const out: string[] = [];
  for (const s of readdirSync(CAPTURED)) {
    const f = join(CAPTURED, s, 'dump-flows.txt');
    if (!existsSync(f)) continue;
    for (const l of readFileSync(f, 'utf8').split('\n')) if (l.startsWith('ufid:')) out.push(l);
  }
  return out;
}
