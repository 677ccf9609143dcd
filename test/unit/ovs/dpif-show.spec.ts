import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import * as fc from 'fast-check';
import { formatDpifShow, parseDpifShow, portNamesByNumber, portNumbersByName } from '../../../src/ovs/dpif-show';
import { parseDumpFlows } from '../../../src/ovs/dump-flows';
import { inPort } from '../../../src/ovs/odp-key';
import { outputPorts } from '../../../src/ovs/odp-actions';
import { VERSIONS, versionDir } from '../../support/captured-model';
import { mutated, scenarioDirs } from '../../support/odp-fixtures';

const FIXTURES = join(__dirname, '../../fixtures');
const files = scenarioDirs().map((d) => join(d, 'dpif-show.txt')).filter((f) => existsSync(f));

describe('dpif/show', () => {
  it.each(files.map((f) => [f.slice(FIXTURES.length + 1), f]))('%s: parses with no error and formats back', (_n, f) => {
    const text = readFileSync(f, 'utf8');
    const show = parseDpifShow(text);
    expect(show.errors).toEqual([]);
    expect(formatDpifShow(show)).toBe(text);
  });

  it.each(VERSIONS)('%s: maps the captured sandbox ports: names ↔ datapath numbers, patch ports have none', (version) => {
    const show = parseDpifShow(readFileSync(join(versionDir(version), 'icmp-allow-related/dpif-show.txt'), 'utf8'));
    expect(show.datapaths).toHaveLength(1);
    const dp = show.datapaths[0];
    expect(dp.bridges.map((b) => b.name).sort()).toEqual(['br-ex', 'br-int']);
    const brInt = dp.bridges.find((b) => b.name === 'br-int');
    const vif1 = brInt?.ports.find((p) => p.name === 'vif1');
    expect(vif1).toEqual({ name: 'vif1', ofport: 1, odpPort: expect.any(Number), type: 'dummy' });
    const patch = brInt?.ports.find((p) => p.type === 'patch');
    expect(patch?.odpPort).toBeNull();
    expect(patch?.config).toMatch(/^peer=/);
    expect(portNamesByNumber(dp).get(vif1?.odpPort ?? -1)).toBe('vif1');
    expect(portNumbersByName(dp).get('vif1')).toBe(vif1?.odpPort);
  });

  it('names every port of the -m dump and numbers every port of the plain dump of the same scenario', () => {
    for (const dir of scenarioDirs().filter((d) => d.includes('/captured/'))) {
      const dp = parseDpifShow(readFileSync(join(dir, 'dpif-show.txt'), 'utf8')).datapaths[0];
      const names = portNumbersByName(dp);
      const numbers = portNamesByNumber(dp);
      for (const f of parseDumpFlows(readFileSync(join(dir, 'dump-flows.txt'), 'utf8')).items) {
        expect(names.has(inPort(f.key) ?? '')).toBe(true);
        for (const p of outputPorts(f.actions)) expect(names.has(p)).toBe(true);
      }
      for (const f of parseDumpFlows(readFileSync(join(dir, 'dump-flows-plain.txt'), 'utf8')).items) {
        expect(numbers.has(Number(inPort(f.key)))).toBe(true);
      }
    }
  });

  it('reports bad lines with their numbers and keeps the rest', () => {
    const show = parseDpifShow('system@ovs-system: hit:1 missed:2\n  br-int:\n    vif1 one/2: (dummy)\n    vif2 2/3: (dummy)\n');
    expect(show.errors.map((e) => e.line)).toEqual([3]);
    expect(show.datapaths[0].bridges[0].ports.map((p) => p.name)).toEqual(['vif2']);
  });

  it('never throws on mutated input', () => {
    const texts = files.map((f) => readFileSync(f, 'utf8'));
    fc.assert(fc.property(fc.constantFrom(...texts).chain(mutated), (t) => void parseDpifShow(t)), { numRuns: 1000 });
  });
});
