// The served text (GET /traces/:id?format=text) of a captured trace, rendered from the JSON the API
// gives for it, against the real ovn-detrace output captured with it (OVN 23.03).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { annotatePass } from '../../../src/correlation/annotate';
import type { AnnotatedTrace } from '../../../src/correlation/types';
import { parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';
import { ownerJson, TraceJson, verdictJson } from '../../../src/traces/trace-record';
import { renderTraceText, stepOvnLines } from '../../../src/traces/trace-text';
import { TraceStore } from '../../../src/traces/trace-store';
import { capturedModel, CAPTURED, versionDir } from '../../support/captured-model';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import { asDetracePrints, readDetrace } from '../../support/detrace-text';

const model = capturedModel();
const TRACE = join(CAPTURED, 'acl-drop/traces/c18ab9e3-05d2-4739-9226-22dae8fd93e9');

/** The JSON the API answers for this annotated pass (the fields the text reads). */
function served(t: AnnotatedTrace): TraceJson {
  return {
    id: 1, ufid: null, chassis: 'hv1', bridge: t.bridge, createdAt: '2026-12-05T00:00:00.000Z', method: t.method, methodReason: null,
    recircId: t.recircId, flow: t.flow, finalFlow: t.finalFlow, megaflow: t.megaflow, datapathActions: t.datapathActions,
    consistent: null, consistentReason: null, pathId: null, datapathFlowId: null, sessionId: null, origin: 'hand-typed',
    verdict: verdictJson(t.verdict), logicalPorts: [], stepCount: t.steps.length, translationFailed: t.translationFailed,
    steps: t.steps.map((s) => ({
      seq: s.seq, depth: s.depth, bridge: s.bridge, table: s.table, priority: s.outcome === 'match' ? s.priority : null,
      cookie: s.cookie, match: s.match, actions: s.actions, owners: s.owners.map(ownerJson), collision: s.collision, northbound: s.hint,
    })),
  };
}

describe('the served trace text', () => {
  const parsed = parseOfprotoTrace(readFileSync(TRACE + '.txt', 'utf8'));
  if (parsed.kind !== 'trace') throw new Error('captured trace did not parse');
  const trace = annotatePass(parsed.pass, model, { method: 'trace' });
  const text = renderTraceText(served(trace));
  const detrace = readDetrace(readFileSync(TRACE + '.detrace.txt', 'utf8'));

  it("prints under each cookie step the OVN lines ovn-detrace printed for that cookie", () => {
    const ours = readDetrace(text);
    expect(ours.length).toBeGreaterThan(5);
    const theirs = new Map(detrace.map((d) => [d.cookie, d.annotations]));
    for (const step of ours) expect({ cookie: step.cookie, lines: step.annotations.map(asDetracePrints) }).toEqual({ cookie: step.cookie, lines: theirs.get(step.cookie) });
  });

  it('names a Port_Binding once, after its logical datapath, as ovn-detrace does', () => {
    expect(text).not.toContain('Port Binding: Port Binding');
    expect(text).toMatch(/^ {2}\* Logical datapath: "sw0" \([0-9a-f-]{36}\)\n {2}\* Port Binding: logical_port "lsp1", tunnel_key 1, chassis-name "hv1", chassis-str "hv1"$/m);
  });

  it('marks every repeated row of one table and keeps a deleted row, marked stale, out of the lines that match ovn-detrace', () => {
    const lf = trace.steps.find((s) => s.owners[0]?.logicalFlow)!;
    const two = [ownerJson(lf.owners[0]), { ...ownerJson(lf.owners[0]), uuid: 'ffffffff-0000-0000-0000-000000000000', stale: true }];
    const lines = stepOvnLines({ owners: two, northbound: null });
    expect(lines.filter((l) => l === '   * [Duplicate uuid cookie]')).toHaveLength(1);
    expect(lines[lines.length - 1]).toBe('   * (stale: logical flow ffffffff-0000-0000-0000-000000000000 no longer in the southbound database)');
  });

  it('prints a match as the database holds it, where ovn-detrace strips the closing quote off it', () => {
    const lf = ownerJson(trace.steps.find((s) => s.owners[0]?.logicalFlow)!.owners[0]);
    const [line] = stepOvnLines({ owners: [{ ...lf, match: 'ip && outport == "sw0-lr0"' }], northbound: null }).filter((l) => l.includes('Logical flow:'));
    expect(line).toContain('match=(ip && outport == "sw0-lr0"), actions=(');
    expect(asDetracePrints(line)).toContain('match=(ip && outport == "sw0-lr0), actions=(');
  });

  it('prints a stored 8-digit cookie as ofproto/trace does, without leading zeros', () => {
    expect(text).not.toMatch(/cookie 0x0[0-9a-f]/);
  });
});

// An ARP responder's pass (OVN's flow ends in controller-less actions the datapath cannot run, so
// ofproto/trace says it is handled by the userspace slow path and why): the served text keeps that
// tail as ofproto/trace printed it, after `Datapath actions:`, read back from the store like any trace.
describe('the served text of a pass handled by the userspace slow path', () => {
  const version = 'ovs-3.5.0_ovn-25.03.0';
  const file = join(versionDir(version), 'arp/traces/a9789f44-5881-449c-bbbd-1e0e6b4a982e.txt');
  const raw = readFileSync(file, 'utf8');

  it('keeps ofproto/trace\'s "handled by the userspace slow path because it:" lines, stored and read back', async () => {
    const parsed = parseOfprotoTrace(raw);
    if (parsed.kind !== 'trace') throw new Error('captured trace did not parse');
    expect(parsed.pass.slowPath.length).toBeGreaterThan(0);
    const m = await openMigratedSqlite('slow-path-text');
    try {
      const store = new TraceStore({ db: m.db, writer: m.writer });
      const trace = annotatePass(parsed.pass, capturedModel(undefined, version), { method: 'trace' });
      const id = await m.writer.submit((tx) => store.insert(tx, { trace, chassis: 'hv1', createdAt: '2026-12-07T22:50:00.000Z' }));
      const text = renderTraceText((await store.read(id, true))!);
      const tail = (t: string) => t.slice(t.indexOf('\nDatapath actions: ') + 1).split('\n').slice(0, 3).join('\n');
      expect(tail(text)).toBe(tail(raw));
      expect(tail(text)).toMatch(/\nThis flow is handled by the userspace slow path because it:\n {2}- .+\.$/);
    } finally {
      await closeMigratedSqlite(m);
    }
  });

  // ofproto_trace__() runs the actions only when a packet comes with the flow (this service traces
  // flows alone), and prints their failure after the slow-path reasons as "\nAction execution
  // failed (%s)\n.". No daemon here gives one on demand (dpif-netdev's only failure, a packet over
  // 65535 bytes, is longer than ovs-appctl takes, and over unixctl 3.1's vswitchd exited without a word), so the
  // captured pass carries EINVAL's text, which is what that failure prints.
  it("keeps ofproto/trace's action execution failure after the slow-path reasons, stored and read back", async () => {
    const parsed = parseOfprotoTrace(raw);
    if (parsed.kind !== 'trace') throw new Error('captured trace did not parse');
    const m = await openMigratedSqlite('action-failed-text');
    try {
      const store = new TraceStore({ db: m.db, writer: m.writer });
      const trace = { ...annotatePass(parsed.pass, capturedModel(undefined, version), { method: 'trace' }), actionExecutionFailed: 'Invalid argument' };
      const id = await m.writer.submit((tx) => store.insert(tx, { trace, chassis: 'hv1', createdAt: '2026-12-07T23:30:00.000Z' }));
      const json = (await store.read(id, true))!;
      expect(json.actionExecutionFailed).toBe('Invalid argument');
      const lines = renderTraceText(json).split('\n');
      const from = lines.findIndex((l) => l.startsWith('Datapath actions: '));
      expect(lines.slice(from + 1, from + 2 + parsed.pass.slowPath.length + 2)).toEqual([
        'This flow is handled by the userspace slow path because it:',
        ...parsed.pass.slowPath.map((r) => `  - ${r}.`),
        'Action execution failed (Invalid argument)',
        '.',
      ]);
    } finally {
      await closeMigratedSqlite(m);
    }
  });
});
