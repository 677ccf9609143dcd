// The datapath flow lines captured from real daemons (scripts/capture-fixtures writes them to
// test/fixtures/captured/<version>/*/dump-flows.txt): what the parse and live benches repeat and vary.
// The Debian 12 capture, as in earlier runs, so numbers stay comparable.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CAPTURED = join(__dirname, '../test/fixtures/captured/ovs-3.1.0_ovn-23.03.1');

export function capturedDumpLines(): string[] {
  const out: string[] = [];
  for (const s of readdirSync(CAPTURED)) {
    const f = join(CAPTURED, s, 'dump-flows.txt');
    if (!existsSync(f)) continue;
    for (const l of readFileSync(f, 'utf8').split('\n')) if (l.startsWith('ufid:')) out.push(l);
  }
  return out;
}
