import { readFileSync } from 'fs';
import { join } from 'path';
import * as fc from 'fast-check';
import { formatDumpLine, parseDumpFlows, parseDumpLine } from '../../../src/ovs/dump-flows';
import { inPort, recircId } from '../../../src/ovs/odp-key';
import { recircTargets } from '../../../src/ovs/odp-actions';
import { OvsParseError } from '../../../src/ovs/parse-error';
import { VERSIONS, versionDir } from '../../support/captured-model';
import { dumpFiles, fixtureLines, mutated } from '../../support/odp-fixtures';

const FIXTURES = join(__dirname, '../../fixtures');
const read = (p: string) => readFileSync(join(FIXTURES, p), 'utf8');

describe('dpctl/dump-flows', () => {
  it.each(dumpFiles().map((f) => [f.slice(FIXTURES.length + 1), f]))('%s: every line parses and formats back', (_n, file) => {
    const text = readFileSync(file, 'utf8');
    const dump = parseDumpFlows(text);
    expect(dump.errors).toEqual([]);
    const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('flow-dump from'));
    expect(dump.items.map(formatDumpLine)).toEqual(lines);
  });

  it('has dumps of every captured version', () => {
    expect(VERSIONS.length).toBeGreaterThanOrEqual(3);
    for (const v of VERSIONS) expect(dumpFiles().filter((f) => f.startsWith(versionDir(v) + '/')).length).toBeGreaterThanOrEqual(20);
  });
});

describe.each(VERSIONS)('dpctl/dump-flows captured on %s', (version) => {
  const captured = (p: string) => readFileSync(join(versionDir(version), p), 'utf8');

  it('reads a captured -m line of the userspace datapath', () => {
    const dump = parseDumpFlows(captured('icmp-allow-related/dump-flows.txt'));
    const first = dump.items.find((f) => recircId(f.key) === 0 && inPort(f.key) === 'vif1');
    expect(first).toBeDefined();
    expect(first?.ufid).toMatch(/^[0-9a-f-]{36}$/);
    expect(first?.thread).toEqual({ text: 'the main thread' });
    expect(first?.dp).toBe('ovs');
    expect(first?.used).toBe('never');
    expect(first?.usedSeconds).toBeNull();
    expect(first?.dpExtraInfo).toMatch(/^miniflow_bits\(/);
    expect(recircTargets(first?.actions ?? [])).toHaveLength(1);
  });

  it('keeps the pmd thread header of flows polled by a pmd', () => {
    const dump = parseDumpFlows(captured('routed/dump-flows.txt'));
    const pmd = dump.items.filter((f) => f.thread?.pmdCore !== undefined);
    expect(pmd.length).toBeGreaterThan(0);
    expect(pmd.every((f) => inPort(f.key) === 'vif4')).toBe(true);
  });

  it('reads the ct_tuple4 match field of a recirculated flow (IPv4 conntrack original tuple)', () => {
    const tuples = parseDumpFlows(captured('acl-drop/dump-flows.txt')).items.flatMap((f) => f.key.fields.filter((e) => e.name === 'ct_tuple4'));
    expect(tuples.length).toBeGreaterThan(0);
    for (const t of tuples) {
      expect(t.kind).toBe('attrs');
      if (t.kind === 'attrs') expect(t.attrs.map((a) => a.name)).toEqual(['src', 'dst', 'proto', 'tp_src', 'tp_dst']);
    }
  });

  it('reports a bad line with its number and keeps the others', () => {
    const good = captured('arp/dump-flows.txt').split('\n');
    const text = [good[0], good[1], 'ufid:not-a-uuid, recirc_id(0), packets:0, bytes:0, used:never, actions:drop', good[2], ''].join('\n');
    const dump = parseDumpFlows(text);
    expect(dump.items).toHaveLength(2);
    expect(dump.errors).toHaveLength(1);
    expect(dump.errors[0].line).toBe(3);
    expect(dump.errors[0].error.message).toMatch(/^bad dump-flows line at 5: expected a UUID/);
    expect(dump.items.map((f) => f.line)).toEqual([2, 4]);
  });
});

describe('dpctl/dump-flows, documented and hand-made lines', () => {
  it('reads kernel-datapath statistics: used seconds, tcp flags, offloaded, dp:tc', () => {
    const dump = parseDumpFlows(read('documented/kernel-datapath/dump-flows.txt'));
    const tc = dump.items.find((f) => f.dp === 'tc');
    expect(tc).toMatchObject({ packets: 2041, bytes: 2963520, used: '0.012s', usedSeconds: 0.012, flags: 'SP.', offloaded: 'yes' });
    expect(tc?.thread).toBeUndefined();
  });

  it('rejects lines missing the statistics or the actions, naming what is missing', () => {
    expect(() => parseDumpLine('recirc_id(0),in_port(1), actions:drop')).toThrow(/expected ', packets:'/);
    expect(() => parseDumpLine('recirc_id(0), packets:1, bytes:2, used:never')).toThrow(/expected 'actions:'/);
    expect(() => parseDumpLine('recirc_id(0), packets:x, bytes:2, used:never, actions:drop')).toThrow(/expected a counter/);
  });

  it('throws nothing but OvsParseError on mutated lines, and never hangs', () => {
    const lines = fixtureLines().map((l) => l.line);
    fc.assert(
      fc.property(fc.constantFrom(...lines).chain(mutated), (text) => {
        try {
          parseDumpLine(text);
        } catch (e) {
          if (!(e instanceof OvsParseError)) throw e;
        }
        // The multi-line entry point never throws: errors are returned per line.
        const dump = parseDumpFlows(text);
        expect(dump.items.length + dump.errors.length).toBeLessThanOrEqual(text.split('\n').length);
      }),
      { numRuns: 3000 },
    );
  });
});
