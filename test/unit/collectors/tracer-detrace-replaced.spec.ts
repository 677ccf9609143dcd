// LIVETRACE_TRACE_METHOD=detrace: a flow whose ukey has no translation cache yet is asked again
// 1 s later (tracer.service.ts DETRACE_RETRY_MS). ofproto/detrace finds a ukey by UFID alone, and a
// UFID is a hash of the flow key: the same packet after the flow was deleted installs a new flow
// with the same UFID (ovs-ovn-facts.md §3). The retry asked by UFID without looking whether the
// lifetime it traced was still the installed one, so the new lifetime's cached rules were stored as
// the old lifetime's pass, saying "ofproto/detrace answered after 1 "Cache was not found"".
// Real tracer, FlowTracer, session service, trace queue and SQLite store; ovs-vswitchd a stand-in
// answering with OVS 3.5.0's captured replies (icmp-allow-related): for flow 0f87e556 "Cache was
// not found", then, once its UFID names a new lifetime, the cached rules of a new translation
// (those captured for flow 7550de3e stand for them); ofproto/trace of 0f87e556's key its captured trace.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LiveFlow } from '../../../src/collectors/datapath-diff';
import { pmdOf } from '../../../src/collectors/datapath-diff';
import { DatapathPorts } from '../../../src/collectors/datapath-ports';
import { FlowTracer } from '../../../src/collectors/flow-tracer';
import type { TracerMetrics } from '../../../src/collectors/tracer-metrics';
import type { VswitchdService } from '../../../src/collectors/vswitchd.service';
import type { AnnotatedTrace } from '../../../src/correlation/types';
import { inPort, recircId } from '../../../src/ovs/odp-key';
import { recircTargets } from '../../../src/ovs/odp-actions';
import { parseDumpFlows } from '../../../src/ovs/dump-flows';
import type { PathRecorder } from '../../../src/paths';
import type { ReplicasService } from '../../../src/replicas/replicas.service';
import { capturedModel } from '../../support/captured-model';
import { CAPTURED_DETRACE } from '../../support/detrace-fixtures';
import { sessionTracer } from '../../support/session-tracer';
import { waitFor } from '../../support/wait';

const VERSION = 'ovs-3.5.0_ovn-25.03.0';
const DIR = join(CAPTURED_DETRACE, VERSION, 'icmp-allow-related');
const OLD = '0f87e556-a11e-47fd-aff5-0b9e71f3d7b5';
const OTHER = '7550de3e-7937-4152-9230-8ee380c67229';
const read = (...p: string[]) => readFileSync(join(DIR, ...p), 'utf8');
const dumped = parseDumpFlows(read('dump-flows.txt')).items;

/** A lifetime of captured flow `ufid` as the poller holds it, row `dbId`. */
function lifetime(ufid: string, dbId: number): LiveFlow {
  const d = dumped.find((f) => f.ufid === ufid)!;
  const at = new Date().toISOString();
  return {
    ufid, dbId, firstSeen: at, lastSeen: at, inPort: inPort(d.key) ?? null, recircId: recircId(d.key), key: d.keyText ?? '',
    actions: d.actionsText ?? '', packets: 1, bytes: 98, used: at, recircTargets: recircTargets(d.actions), flow: d, pmd: pmdOf(d),
  };
}

describe('the detrace retry of a flow whose UFID meanwhile names another lifetime', () => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(() => close());

  it('does not store the new lifetime’s cached rules as the old one’s pass, and says why', async () => {
    expect(read('detrace', `${OLD}.at-install.txt`)).toMatch(/^Cache was not found/);
    let replaced = false;
    const detraces: string[] = [];
    const vswitchd = {
      detrace: true,
      call: async (command: string, args: string[]) => {
        if (command === 'ofproto/detrace') {
          detraces.push(args[0]);
          return replaced ? read('detrace', `${OTHER}.txt`) : read('detrace', `${OLD}.at-install.txt`);
        }
        if (command === 'ofproto/trace') return read('traces', `${OLD}.txt`);
        throw new Error(`unexpected ${command}`);
      },
    } as unknown as VswitchdService;
    const replicas = { model: capturedModel(undefined, VERSION) } as unknown as ReplicasService;
    const ports = { current: async () => null, names: () => undefined } as unknown as DatapathPorts;
    const metrics = { count: () => undefined, queueDepth: () => undefined, stored: () => undefined } as unknown as TracerMetrics;
    const stored: Array<{ dbId?: number; trace: AnnotatedTrace; methodReason: string }> = [];
    const paths = {
      record: async (r: { flow: LiveFlow; trace: AnnotatedTrace; methodReason: string }) => {
        stored.push({ dbId: r.flow.dbId, trace: r.trace, methodReason: r.methodReason });
        return { traceId: stored.length, pathId: stored.length, complete: null };
      },
      forgetLater: () => undefined,
    } as unknown as PathRecorder;
    const agent = await sessionTracer('livetrace-detrace-replaced-', [], {
      flowTracer: (cfg, poller) => new FlowTracer(cfg, vswitchd, poller, replicas, ports, metrics),
      paths,
      metrics,
      env: { LIVETRACE_TRACE_METHOD: 'detrace' },
    });
    close = agent.close;
    const { sessions, poller, newSession } = agent;
    await newSession({});
    await sessions.onApplicationBootstrap();

    const old = lifetime(OLD, 1);
    poller.table.live.set(OLD, old);
    poller.emit('cycle', [{ type: 'ukey_created', flow: old }]);
    await waitFor('the first ofproto/detrace of the flow', async () => (detraces.length === 1 ? true : undefined), 10_000);
    // Before the retry: the flow is deleted and the same packet installs a new flow, same UFID.
    const now = lifetime(OLD, 2);
    poller.table.live.set(OLD, now);
    replaced = true;
    poller.emit('cycle', [
      { type: 'ukey_removed', flow: old, at: new Date().toISOString(), reason: 'gone' },
      { type: 'ukey_created', flow: now },
    ]);
    await waitFor('both lifetimes stored', async () => (stored.length === 2 ? true : undefined), 10_000);

    const ofOld = stored.find((s) => s.dbId === 1)!;
    const ofNew = stored.find((s) => s.dbId === 2)!;
    // The new lifetime's own pass: the cached rules.
    expect(ofNew.trace.method).toBe('detrace');
    // The old one's: its own key traced, never the new lifetime's cache, and why.
    expect(ofOld.trace.method).toBe('trace');
    expect(ofOld.methodReason).toMatch(/removed before its trace/);
  });
});
