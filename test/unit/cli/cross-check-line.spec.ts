// `ovn-livetrace cross-check ID` names where the live packet left: its live verdict is the cross-check's
// verdicts.live, which for a packet that left by an OVS port no logical port stands for holds no logical
// port, only unmappedOutputs. The line said "live: output, tunnel;" with no port.
//
// Each pipeline's line said "3/26 live stages matched (3 in ovn-trace)" and no more: read as 23
// mismatches, where the answer holds 23 stages ovn-trace does not print (excused.omittedByOvnTrace,
// which the page shows as "not a difference"); and two "egress sw0" lines without their outports.
//
// The answer is the cross-check of flood-vlan's lsp1 flood on hv1 with vif5 carrying no iface-id (as
// test/unit/cross-checks/unmapped-output-explanation.spec builds it), served by a stand-in API; trace 6's is
// the tie capture's (test/unit/cross-checks/tie-paths.spec.ts): a match whose tie the line names.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { compareWithSimulation } from '../../../src/cross-checks/compare';
import { logicalFlowResolver } from '../../../src/cross-checks/live-segments';
import { parseOvnTrace } from '../../../src/cross-checks/ovn-trace-parse';
import { pathVerdict, summarise } from '../../../src/paths/path-verdict';
import { modelFromDumps } from '../../support/captured-model';
import { CAPTURED_OVN_TRACE, currentFlows, floodVlanPass } from '../../support/captured-ovn-trace';

const ROOT = resolve(__dirname, '../../..');
const CLI = ['-r', join(ROOT, 'test/support/swc-register.js'), join(ROOT, 'src/cli/main.ts')];
const VERSION = 'ovs-3.1.0_ovn-23.03.1';

describe('the cross-check line', () => {
  let server: Server;
  let url: string;
  const { passes, pass } = floodVlanPass(VERSION, 'flood', [['vif1', 'lsp1'], ['vif5', null]]);
  const verdict = pathVerdict([{ traceId: passes[0].id, recircId: 0, pass: summarise(pass) }]);
  const sim = parseOvnTrace(readFileSync(join(CAPTURED_OVN_TRACE, VERSION, 'flood-vlan', 'flood.ovn-trace.txt'), 'utf8'));
  const comparison = compareWithSimulation(passes, verdict, sim, currentFlows(passes));
  const tieDir = join(CAPTURED_OVN_TRACE, VERSION, 'tie');
  const tiePath = JSON.parse(readFileSync(join(tieDir, 'tie-mcast-path.json'), 'utf8'));
  const tie = compareWithSimulation(tiePath.passes, tiePath.verdict, parseOvnTrace(readFileSync(join(tieDir, 'tie-mcast.ovn-trace.txt'), 'utf8')), logicalFlowResolver(modelFromDumps(tieDir, VERSION, [], 'tie-mcast.')));

  beforeAll(async () => {
    server = createServer((req, res) => {
      const id = /^\/traces\/([56])\/cross-check$/.exec(req.url ?? '')?.[1];
      const body = { ...(id === '6' ? tie : comparison), id: 9, traceId: Number(id), pathId: null, sessionId: null, command: { argv: ['ovn-trace'], shell: 'ovn-trace' } };
      res.writeHead(req.method === 'POST' && id ? 200 : 404, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => new Promise((r) => server.close(r)));

  const crossCheck = (id = 5) =>
    new Promise<string>((done, fail) =>
      execFile(process.execPath, [...CLI, 'cross-check', String(id)], { cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', LIVETRACE_URL: url, LIVETRACE_API_TOKEN: '', NO_COLOR: '1' } }, (e, o, err) => (e ? fail(new Error(err)) : done(o))),
    );

  it('names the OVS port the live packet left by', async () => {
    expect(comparison.verdicts.live).toMatchObject({ logicalPorts: [], unmappedOutputs: ['vif5'] });
    const out = await crossCheck();
    expect(out).toMatch(/^cross-check 9 of trace 5: diverged \(live: output, tunnel OVS port vif5; ovn-trace: output lsp2, lsp5\)$/m);
  });

  it('accounts for every live stage of a pipeline: matched, or not a difference and why', async () => {
    const omitted = comparison.pipelines.map((p) => p.excused.omittedByOvnTrace?.length ?? 0);
    expect(omitted.some((n) => n > 0)).toBe(true);
    const lines = (await crossCheck()).split('\n').filter((l) => /^  (ingress|egress) /.test(l));
    expect(lines).toEqual(
      comparison.pipelines.map((p, i) =>
        `  ${p.pipeline} ${p.datapath}${p.outport ? ` to ${p.outport}` : ''}: ${p.matched}/${p.liveStages} live stages matched (${p.simulatedStages} in ovn-trace)` +
        (omitted[i] ? `, ${omitted[i]} not printed by ovn-trace (not a difference)` : ''),
      ),
    );
  });

  it('names a tie under a match: both flows, and why it is not a difference', async () => {
    expect(tie.result).toBe('match');
    const out = await crossCheck(6);
    expect(out).toMatch(/^cross-check 9 of trace 6: match /m);
    expect(out).toMatch(/^ {2}tie, not a difference: At egress\(dp="sw0"\) table \d+ \(ls_out_pre_lb\) the datapath ran logical flow \w{8} \(priority 110, "eth\.mcast" .* OVS picks between overlapping equal-priority flows arbitrarily/m);
    expect(out).toMatch(/1 a tie between equal-priority flows OVS broke otherwise/);
  });
});
