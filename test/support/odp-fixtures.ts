import { readdirSync, readFileSync, existsSync } from 'fs';
import { join } from 'path';
import * as fc from 'fast-check';
import { capturedScenarios, VERSIONS, versionDir } from './captured-model';

/** Every dump line of every scenario, captured from real daemons (every OVS/OVN version) or written from the documented format. */
export interface FixtureLine {
  readonly source: string;
  /** The captured version folder (ovs-<X>_ovn-<Y>), or 'documented'. */
  readonly version: string;
  readonly line: string;
  /** The key text and the actions text, cut the simple way (for round-trip checks). */
  readonly key: string;
  readonly actions: string;
}

const FIXTURES = join(__dirname, '../fixtures');

/** captured/<version>/<scenario> of every captured version, then documented/<name>. */
export function scenarioDirs(): string[] {
  const out: string[] = [];
  for (const v of VERSIONS) out.push(...capturedScenarios(v).map((s) => join(versionDir(v), s)));
  const documented = join(FIXTURES, 'documented');
  if (existsSync(documented)) {
    for (const name of readdirSync(documented, { withFileTypes: true })) {
      if (name.isDirectory()) out.push(join(documented, name.name));
    }
  }
  return out;
}

/** The version folder a fixture path is in ('documented' for hand-written ones). */
export function versionOfPath(path: string): string {
  const m = /\/captured\/(ovs-[^/]+_ovn-[^/]+)\//.exec(path);
  return m ? m[1] : 'documented';
}

export function dumpFiles(): string[] {
  const out: string[] = [];
  for (const dir of scenarioDirs()) {
    for (const f of ['dump-flows.txt', 'dump-flows-plain.txt']) if (existsSync(join(dir, f))) out.push(join(dir, f));
  }
  return out;
}

export function fixtureLines(): FixtureLine[] {
  const out: FixtureLine[] = [];
  for (const file of dumpFiles()) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line === '' || line.startsWith('flow-dump from')) continue;
      const keyStart = line.startsWith('ufid:') ? line.indexOf(', ') + 2 : 0;
      const keyEnd = line.indexOf(', packets:');
      const actStart = line.indexOf('actions:') + 8;
      const extra = line.indexOf(', dp-extra-info:');
      out.push({
        source: file.slice(FIXTURES.length + 1),
        version: versionOfPath(file),
        line,
        key: line.slice(keyStart, keyEnd),
        actions: line.slice(actStart, extra < 0 ? line.length : extra),
      });
    }
  }
  return out;
}

/** Characters that matter to the grammar, plus ordinary ones, so mutations hit the parser's edges. */
const CHARS = '(),=/{}:.+-| x0aS\n';

/** A random edit script: insert, delete or replace characters at random positions. */
export function mutated(text: string): fc.Arbitrary<string> {
  const edit = fc.record({
    op: fc.constantFrom('insert', 'delete', 'replace'),
    at: fc.nat(),
    ch: fc.oneof(fc.constantFrom(...CHARS.split('')), fc.string({ minLength: 1, maxLength: 3 })),
  });
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let s = text;
    for (const e of edits) {
      const at = s.length === 0 ? 0 : e.at % (s.length + 1);
      if (e.op === 'insert') s = s.slice(0, at) + e.ch + s.slice(at);
      else if (e.op === 'delete') s = s.slice(0, at) + s.slice(at + 1);
      else s = s.slice(0, at) + e.ch + s.slice(at + 1);
    }
    return s;
  });
}
