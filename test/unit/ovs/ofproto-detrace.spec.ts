// parseOfprotoDetrace over every real reply captured from OVS 3.5 (flat layout) and OVS 4.0
// (bridge-headed layout) by scripts/capture-detrace-fixtures, checked against the own-key
// ofproto/trace of the same flows captured with them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fc from 'fast-check';
import { detraceArgs, detracePass, parseDetraceAnswer } from '../../../src/collectors/detrace-pass';
import { DatapathFlowTable, LiveFlow, NON_PMD_CORE_ID } from '../../../src/collectors/datapath-diff';
import { parseDumpFlows, parseDumpLine } from '../../../src/ovs/dump-flows';
import { OvsParseError } from '../../../src/ovs/parse-error';
import { detraceCookies, OfprotoDetraceResult, OvsTextParseError, parseOfprotoDetrace } from '../../../src/ovs/ofproto-detrace';
import { parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';
import { CAPTURED_DETRACE, capturedDetraceFlows, capturedDetraceVersions } from '../../support/detrace-fixtures';

const VERSIONS = capturedDetraceVersions();
const entries = (r: OfprotoDetraceResult) => {
  if (r.kind !== 'entries') throw new Error(`expected entries, got ${r.kind}: ${r.message}`);
  return r;
};
const flowOf = (f: { dumpLine: string }) => ({ key: 'k', actions: 'a', ufid: 'u' }) as unknown as LiveFlow;

describe('captured ofproto/detrace replies', () => {
  it('exist for OVS 3.5 and OVS 4.0', () => {
    expect(VERSIONS.some((v) => v.startsWith('ovs-3.5.'))).toBe(true);
    expect(VERSIONS.some((v) => v.startsWith('ovs-4.0.'))).toBe(true);
  });
});

describe.each(VERSIONS)('parseOfprotoDetrace on %s', (version) => {
  const flows = capturedDetraceFlows(version);
  const answered = flows.filter((f) => f.answered !== 'never');
  const layout = version.startsWith('ovs-3.') ? 'flat' : 'by_bridge';

  it('has flows from every scenario, most of them answered', () => {
    expect(flows.length).toBeGreaterThan(40);
    expect(answered.length).toBeGreaterThan(flows.length * 0.9);
  });

  it(`reads every answered reply in the ${layout} layout: cookies padded, offload stats kept`, () => {
    for (const f of answered) {
      const r = entries(parseOfprotoDetrace(f.reply));
      expect({ ufid: f.ufid, layout: r.layout }).toEqual({ ufid: f.ufid, layout });
      expect(r.misses).toEqual([]);
      const rules = r.entries.filter((e) => e.type === 'rule');
      expect(r.entries.length).toBeGreaterThan(0);
      for (const e of rules) {
        if (e.type !== 'rule') continue;
        expect(e.cookie).toMatch(/^0x[0-9a-f]{8}$/);
        expect(e.stats).toEqual(expect.objectContaining({ n_packets: expect.stringMatching(/^\d+$/), n_offload_packets: expect.stringMatching(/^\d+$/) }));
        expect(e.actions.length).toBeGreaterThan(0);
        if (layout === 'by_bridge') expect(e.bridge).toMatch(/^br-/);
        else expect(e.bridge).toBeNull();
      }
    }
  });

  it('names the same OVN cookies, in the same order, as ofproto/trace of the flow\'s own key', () => {
    let exact = 0;
    for (const f of answered) {
      const t = parseOfprotoTrace(f.trace);
      if (t.kind !== 'trace') continue;
      const pass = detracePass(entries(parseOfprotoDetrace(f.reply)).entries, flowOf(f));
      const seq = (steps: readonly { outcome: string; cookie: string | null; table: number }[]) => steps.filter((s) => s.outcome === 'match');
      const ovn = (steps: readonly { outcome: string; cookie: string | null; table: number }[]) =>
        seq(steps).flatMap((s) => (s.cookie && s.cookie !== '0x00000000' ? [s.cookie] : []));
      expect({ ufid: f.ufid, cookies: ovn(pass.steps) }).toEqual({ ufid: f.ufid, cookies: ovn(t.pass.steps) });
      const all = (steps: Parameters<typeof seq>[0]) => seq(steps).map((s) => `${s.table}:${s.cookie}`).join(' ');
      if (all(pass.steps) === all(t.pass.steps)) exact++;
    }
    // Cookie-0 glue rules (OVS-internal tables) may differ when OpenFlow changed in between.
    expect(exact).toBeGreaterThan(answered.length * 0.9);
  });

  if (layout === 'by_bridge') {
    it('folds "table_id=N, no match" and the table-254 rule it falls to into one no_match step of table N', () => {
      let folded = 0;
      for (const f of answered) {
        const r = entries(parseOfprotoDetrace(f.reply));
        const pass = detracePass(r.entries, flowOf(f));
        const misses = r.entries.filter((e) => e.type === 'no_match').map((e) => e.table);
        expect(pass.steps.filter((s) => s.outcome === 'no_match').map((s) => s.table)).toEqual(misses);
        expect(pass.steps.some((s) => s.table === 254)).toBe(false);
        folded += misses.length;
      }
      expect(folded).toBeGreaterThan(10);
    });
  } else {
    it('keeps the table-254 rule of a miss as a no_match step (3.5 does not say which table missed)', () => {
      const f = answered.find((x) => /table_id=254,/.test(x.reply))!;
      const pass = detracePass(entries(parseOfprotoDetrace(f.reply)).entries, flowOf(f));
      expect(pass.steps.filter((s) => s.table === 254).every((s) => s.outcome === 'no_match' && s.cookie === null)).toBe(true);
    });
  }

  it('right after install: "Cache was not found for netdev@ovs-netdev", a reason to fall back, never an error', () => {
    const pending = flows.filter((f) => parseOfprotoDetrace(f.atInstall).kind !== 'entries');
    expect(pending.length).toBeGreaterThan(flows.length / 2);
    for (const f of pending) {
      expect(parseOfprotoDetrace(f.atInstall)).toEqual({
        kind: 'no_answer',
        reason: 'cache_not_found',
        misses: [{ reason: 'cache_not_found', datapath: 'netdev@ovs-netdev', line: 1 }],
        message: 'Cache was not found for netdev@ovs-netdev',
      });
      expect(parseDetraceAnswer(f.atInstall, flowOf(f))).toEqual({ kind: 'cache_not_found', message: 'Cache was not found for netdev@ovs-netdev' });
    }
  });

  it('without pmd=, a flow of a pmd thread is "UFID was not found"; one of the main thread is found', () => {
    for (const f of flows) {
      const r = parseOfprotoDetrace(f.noPmd);
      if (f.pmd !== `pmd=${NON_PMD_CORE_ID}`) expect({ ufid: f.ufid, r }).toMatchObject({ ufid: f.ufid, r: { kind: 'no_answer', reason: 'ufid_not_found', message: 'UFID was not found for netdev@ovs-netdev' } });
    }
    const mainThread = flows.filter((f) => f.pmd === `pmd=${NON_PMD_CORE_ID}` && f.answered !== 'never');
    expect(mainThread.filter((f) => parseOfprotoDetrace(f.noPmd).kind === 'entries').length).toBeGreaterThan(mainThread.length * 0.9);
  });
});

describe('detrace arguments', () => {
  it('carries each flow\'s dump header onto the poller\'s LiveFlow as the pmd= the captured replies were answered with', () => {
    let pmdFlows = 0;
    for (const version of VERSIONS) {
      const root = join(CAPTURED_DETRACE, version);
      for (const scenario of readdirSync(root)) {
        const manifest = JSON.parse(readFileSync(join(root, scenario, 'manifest.json'), 'utf8')) as { flows: Record<string, { pmd: string }> };
        const table = new DatapathFlowTable();
        table.apply(parseDumpFlows(readFileSync(join(root, scenario, 'dump-flows.txt'), 'utf8'), { build: 'on-read' }).items, new Date().toISOString());
        for (const [ufid, m] of Object.entries(manifest.flows)) {
          const flow = table.live.get(ufid)!;
          expect({ ufid, args: detraceArgs(flow) }).toEqual({ ufid, args: [`ufid:${ufid}`, m.pmd] });
          if (m.pmd !== `pmd=${NON_PMD_CORE_ID}`) pmdFlows++;
        }
      }
    }
    expect(pmdFlows).toBeGreaterThan(0); // a flow polled by a pmd thread (dummy-pmd port), pmd=<core>
    // A lifetime seeded from the store has no header until the next dump: no pmd= (the daemon's default).
    const seeded = new DatapathFlowTable().seed(parseDumpLine('ufid:11111111-2222-4333-8444-555555555555, recirc_id(0),in_port(1),eth_type(0x0800), packets:1, bytes:98, used:0.1s, actions:drop'), { dbId: 1, firstSeen: 'x', lastSeen: 'x' });
    expect(detraceArgs(seeded)).toEqual(['ufid:11111111-2222-4333-8444-555555555555']);
  });

  it('passes the pmd id of the dump header; none for the kernel datapath', () => {
    expect(detraceArgs({ ufid: 'u', pmd: NON_PMD_CORE_ID })).toEqual(['ufid:u', 'pmd=4294967295']);
    expect(detraceArgs({ ufid: 'u', pmd: 1 })).toEqual(['ufid:u', 'pmd=1']);
    expect(detraceArgs({ ufid: 'u', pmd: null })).toEqual(['ufid:u']);
    expect(detraceArgs({ ufid: 'u' })).toEqual(['ufid:u']);
  });
});

describe('parseOfprotoDetrace edge cases', () => {
  it('keeps the entries of the datapath that has the ukey when another one has not (documented: kernel and userspace)', () => {
    const r = parseOfprotoDetrace(readFileSync(join(__dirname, '../../fixtures/documented/detrace/kernel-and-netdev.txt'), 'utf8'));
    expect(r).toMatchObject({ kind: 'entries', layout: 'by_bridge', misses: [{ reason: 'ufid_not_found', datapath: 'netdev@ovs-netdev', line: 1 }] });
    expect(detraceCookies(r)).toEqual(['0xc57fbed3', '0x1cc97bd4', '0x3008b824']);
    const short = parseOfprotoDetrace('br-int\n  cookie=0x5707510, table_id=24, duration=3s, n_packets=2, n_bytes=212, n_offload_packets=0, n_offload_bytes=0, priority=0,metadata=0x1,actions=resubmit(,25)\n');
    expect(detraceCookies(short)).toEqual(['0x05707510']);
  });

  it('reads a rule with an empty match, cookie 0 and table 0 (none of them printed)', () => {
    const r = entries(parseOfprotoDetrace('br1\n  n_packets=3, n_bytes=294, ,actions=clone(resubmit(,1)),resubmit(,2)\n'));
    expect(r.entries[0]).toMatchObject({ type: 'rule', cookie: '0x00000000', table: 0, match: '', actions: 'clone(resubmit(,1)),resubmit(,2)', bridge: 'br1' });
  });

  it('answers "empty" for an empty reply and ufid_not_found when no datapath has the ukey', () => {
    expect(parseOfprotoDetrace('')).toMatchObject({ kind: 'no_answer', reason: 'empty' });
    expect(parseDetraceAnswer('UFID was not found for netdev@ovs-netdev\n', flowOf({ dumpLine: '' }))).toEqual({ kind: 'ufid_not_found', message: 'UFID was not found for netdev@ovs-netdev' });
  });

  it('turns an unreadable reply into a reason to fall back, with what was wrong', () => {
    const a = parseDetraceAnswer('hello world, this is not a rule\n', flowOf({ dumpLine: '' }));
    expect(a.kind).toBe('unparsable');
    expect(a.kind !== 'entries' && a.message).toMatch(/^unreadable reply: .*expected a rule/);
  });

  it.each([
    ['a line that is no entry', 'hello world, this is not a rule\n'],
    ['a rule without actions', 'duration=3s, n_packets=1, n_bytes=98, priority=100,in_port=1\n'],
    ['an entry outside any bridge after a bridge line', 'br-int\n  table_id=3, no match\ntable_id=4, no match\n'],
    ['a bad cookie', 'cookie=0xzz, duration=3s, n_packets=1, n_bytes=98, actions=drop\n'],
  ])('rejects %s with a typed error naming the line', (_name, text) => {
    expect(() => parseOfprotoDetrace(text)).toThrow(OvsTextParseError);
  });

  it('never throws anything but OvsParseError', () => {
    const sample = capturedDetraceFlows(VERSIONS[VERSIONS.length - 1])[0].reply;
    fc.assert(
      fc.property(fc.nat(sample.length), fc.string({ maxLength: 30 }), fc.string({ maxLength: 300 }), (cut, junk, any) => {
        for (const text of [sample.slice(0, cut) + junk + sample.slice(cut), any]) {
          try {
            parseOfprotoDetrace(text);
          } catch (e) {
            expect(e).toBeInstanceOf(OvsParseError);
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});
