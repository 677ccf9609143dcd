// The real ofproto/detrace replies captured by scripts/capture-detrace-fixtures, one folder per
// OVS/OVN version: test/fixtures/captured-detrace/<version>/<scenario>/.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CAPTURED_DETRACE = join(__dirname, '..', 'fixtures', 'captured-detrace');

export interface CapturedDetraceFlow {
  version: string;
  scenario: string;
  ufid: string;
  /** `pmd=N` as the capture passed it (from the dump's thread header). */
  pmd: string;
  /** When the daemon first answered with rules: after more traffic, only after an OpenFlow change, or never. */
  answered: 'after-traffic' | 'after-openflow-change' | 'never';
  dumpLine: string;
  /** The reply right after the flow was first dumped. */
  atInstall: string;
  /** The reply once answered (or the last try). */
  reply: string;
  noPmd: string;
  /** ofproto/trace of the flow's own key, taken with atInstall. */
  trace: string;
}

export function capturedDetraceVersions(): string[] {
  return existsSync(CAPTURED_DETRACE) ? readdirSync(CAPTURED_DETRACE).filter((v) => /^ovs-/.test(v)).sort() : [];
}

export function capturedDetraceFlows(version: string): CapturedDetraceFlow[] {
  const out: CapturedDetraceFlow[] = [];
  const root = join(CAPTURED_DETRACE, version);
  for (const scenario of readdirSync(root).sort()) {
    const dir = join(root, scenario);
    if (!existsSync(join(dir, 'manifest.json'))) continue;
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { flows: Record<string, { pmd: string; answered: CapturedDetraceFlow['answered'] }> };
    const dump = readFileSync(join(dir, 'dump-flows.txt'), 'utf8').split('\n');
    const read = (...p: string[]) => readFileSync(join(dir, ...p), 'utf8');
    for (const [ufid, m] of Object.entries(manifest.flows)) {
      out.push({
        version,
        scenario,
        ufid,
        pmd: m.pmd,
        answered: m.answered,
        dumpLine: dump.find((l) => l.startsWith(`ufid:${ufid},`)) ?? '',
        atInstall: read('detrace', `${ufid}.at-install.txt`),
        reply: read('detrace', `${ufid}.txt`),
        noPmd: read('detrace', `${ufid}.no-pmd.txt`),
        trace: read('traces', `${ufid}.txt`),
      });
    }
  }
  return out;
}
