// The version matrix's numbers for one OVS/OVN pair (LIVETRACE_PAIR): on the router topology of
// the verdict tests (a load balancer, SNAT, port-group ACLs, an unresolved next hop), the service
// traces lsp1 live with its default settings, and this measures what a user gets:
// - datapath flows traced / datapath flows installed;
// - cookie steps whose OVN annotation equals the real ovn-detrace's, over the same trace text
//   (ofproto/trace of each installed flow's own key, run through the pair's own ovn-detrace);
// - packets whose path verdicts match what the datapath did (test/support/verdict-check.ts: delivered,
//   the interface whose tx counter grew; dropped, the ACL named, an installed drop and nothing sent;
//   controller, the reason and an installed userspace(controller(…))).
// scripts/test-matrix prints them per pair from LIVETRACE_MATRIX_DIR/<pair>.report.json.
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ReplicasService } from '../../src/replicas/replicas.service';
import { parseDumpFlows } from '../../src/ovs/dump-flows';
import { traceKey } from '../../src/ovs/odp-key';
import { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';
import { checkPacket, startTracingLsp1 } from '../support/verdict-check';
import { VERDICT_PACKETS, VerdictTopology } from '../support/verdict-topology';
import { Agreement, compareWithDetrace } from '../support/detrace-agreement';

jest.setTimeout(300_000);

const PAIR = process.env.LIVETRACE_PAIR ?? 'debian12';

function detrace(sb: Sandbox, text: string): Promise<string> {
  return new Promise((res, rej) => {
    const child = execFile('ovn-detrace', [`--ovnnb=${sb.env.OVN_NB_DB}`, `--ovnsb=${sb.env.OVN_SB_DB}`, `--ovsdb=${sb.env.OVS_DB}`], {
      env: { ...process.env, ...sb.env },
      timeout: 60_000,
      maxBuffer: 64 << 20,
    }, (err, stdout) => (err ? rej(err) : res(stdout)));
    child.stdin!.end(text);
  });
}

interface PacketResult {
  name: string;
  expected: string;
  verdict: unknown;
  right: boolean;
  why: string;
}

describe(`version matrix on ${PAIR}`, () => {
  let sb: Sandbox;
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  let topo: VerdictTopology;
  const results: PacketResult[] = [];
  let flowsTotal = 0;
  let flowsTraced = 0;
  const untraced: string[] = [];
  /** How the stored traces were made (detrace / trace), as the service chose with its defaults. */
  const methods: Record<string, number> = {};
  const agreement: Agreement = { steps: 0, agree: 0, disagreements: [], extras: {}, passes: [] };

  beforeAll(async () => {
    ({ sb, topo, app, http } = await startTracingLsp1('livetrace-matrix-', { includeExisting: true }));
  });

  afterAll(async () => {
    const versions = execFileSync(resolve(__dirname, '../../scripts/ovn-root'), ['versions', PAIR], { encoding: 'utf8' }).trim();
    const report = {
      pair: PAIR,
      versions,
      flowsTraced,
      flowsTotal,
      untraced,
      methods,
      cookieSteps: agreement.steps,
      cookieStepsAgreeing: agreement.agree,
      disagreements: agreement.disagreements.slice(0, 10),
      packets: results.length,
      verdictsRight: results.filter((r) => r.right).length,
      results,
    };
    console.log(`version matrix ${PAIR} (${versions}): ${JSON.stringify({ ...report, results: results.map((r) => `${r.name}: ${r.right ? 'right' : `WRONG (${r.why})`}`) })}`);
    if (process.env.LIVETRACE_MATRIX_DIR) writeFileSync(join(process.env.LIVETRACE_MATRIX_DIR, `${PAIR}.report.json`), JSON.stringify(report, null, 2));
    await app?.close();
    await sb?.stop();
  });

  /** Every installed flow: traced by the service? and its own-key trace annotated as ovn-detrace does? */
  async function measureFlows(): Promise<void> {
    const model = app.get(ReplicasService).model;
    const dump = parseDumpFlows(await sb.appctl('dpctl/dump-flows', '-m')).items;
    const traceOf = async (ufid: string) => {
      const d = await http.get(`/datapath-flows/${ufid}`);
      return d.status === 200 ? (d.body.lifetimes[0]?.traces[0] as { method: string } | undefined) : undefined;
    };
    const traced = async (ufid: string) => (await traceOf(ufid)) !== undefined;
    await waitFor('a trace for every installed flow', async () => {
      for (const f of dump) if (!(await traced(f.ufid!))) return false;
      return true;
    }, 20_000).catch(() => undefined);
    for (const f of dump) {
      flowsTotal++;
      const t = await traceOf(f.ufid!);
      if (t) {
        flowsTraced++;
        methods[t.method] = (methods[t.method] ?? 0) + 1;
      } else untraced.push(`${f.ufid} ${f.keyText?.slice(0, 160) ?? ''}`);
      let text: string;
      try {
        text = await sb.appctl('ofproto/trace', traceKey(f.key));
      } catch {
        continue; // its recirculation id died with its parent: nothing to compare
      }
      compareWithDetrace(text, await detrace(sb, text), model, agreement);
    }
  }

  it.each(Object.keys(VERDICT_PACKETS))('%s: the path verdict is what the datapath did', async (name) => {
    // One owner for "does the verdict match the datapath": the verdict tests' checkPacket.
    const r = await checkPacket(sb, http, topo, name).catch((err: Error) => ({ paths: [], mismatches: [err.message] }));
    results.push({ name, expected: VERDICT_PACKETS[name].expect.kind, verdict: r.paths.map((x) => x.verdict), right: r.mismatches.length === 0, why: r.mismatches.join('; ') });
    await measureFlows();
    expect({ name, mismatches: r.mismatches }).toEqual({ name, mismatches: [] });
  });

  it('traced every installed datapath flow and agreed with ovn-detrace on every cookie step', () => {
    expect(flowsTotal).toBeGreaterThan(5);
    expect(untraced).toEqual([]);
    expect(agreement.steps).toBeGreaterThan(50);
    expect(agreement.disagreements).toEqual([]);
  });
});
