// For every datapath flow of every captured scenario, replayed on a live sandbox: our parser reads
// the `dpctl/dump-flows -m` line, our formatter writes the flow's own key back (values as dumped,
// masks dropped) and ovs-vswitchd's `ofproto/trace` accepts it and translates it to the end —
// IPv6, VLAN, conntrack state and recirculation ids included.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { Sandbox } from '../../support/sandbox';
import { waitFor } from '../../support/wait';
import { UnixctlClient } from '../../../src/unixctl';
import { parseDumpFlows } from '../../../src/ovs/dump-flows';
import { recircId, traceKey } from '../../../src/ovs/odp-key';
import { parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';
import { dpifShowPortNumbers, compareTracedActions } from '../../../src/ovs/trace-compare';
import { formatActions } from '../../../src/ovs/odp-actions';

const run = promisify(execFile);
const CAPTURE = resolve(__dirname, '../../../scripts/capture-fixtures');

async function capture(...args: string[]): Promise<string[]> {
  const { stdout } = await run(CAPTURE, args);
  return stdout.split('\n').filter((l) => l !== '');
}

describe('ofproto/trace of each datapath flow’s own key', () => {
  let sb: Sandbox | undefined;
  let vswitchd: UnixctlClient | undefined;
  const traced: string[] = [];
  let agreed = 0;

  beforeAll(async () => {
    sb = await Sandbox.start({ prefix: 'livetrace-ownkey-' });
    await capture('--topology', sb.dir);
    vswitchd = new UnixctlClient({ target: sb.vswitchdCtl() });
  }, 180_000);

  afterAll(async () => {
    vswitchd?.close();
    await sb?.stop();
  });

  /** Dumps until two dumps in a row list the same flows: upcalls are handled asynchronously. */
  async function settledDump(min: number): Promise<string> {
    let last = '';
    return waitFor('datapath flows to settle', async () => {
      const text = await vswitchd!.call('dpctl/dump-flows', ['-m']);
      const ufids = text.split('\n').filter((l) => l.startsWith('ufid:')).map((l) => l.slice(0, 41)).sort().join();
      const stable = ufids === last && parseDumpFlows(text).items.length >= min;
      last = ufids;
      return stable ? text : undefined;
    });
  }

  it.each(execFileSyncLines('--scenarios'))('%s: every flow’s own key traces to Datapath actions', async (scenario) => {
    await vswitchd!.call('dpctl/del-flows');
    await vswitchd!.call('dpctl/flush-conntrack');
    for (const line of await capture('--packets', scenario)) {
      const [iface, flow] = line.split('\t');
      await sb!.inject(iface, flow);
    }
    const dump = parseDumpFlows(await settledDump(1));
    expect(dump.errors).toEqual([]);
    expect(dump.items.length).toBeGreaterThan(0);
    const failures: string[] = [];
    const ports = dpifShowPortNumbers(await vswitchd!.call('dpif/show'));
    for (const f of dump.items) {
      const key = traceKey(f.key);
      traced.push(key);
      try {
        const text = await vswitchd!.call('ofproto/trace', [key]);
        if (!/^Datapath actions: /m.test(text)) failures.push(`${f.ufid}: no Datapath actions:\n${text}`);
        if (recircId(f.key) !== 0 && !/Resuming from table/.test(text)) failures.push(`${f.ufid}: recirculation not resumed`);
        // The parsed pass's own Datapath actions are the installed flow's (ports mapped through
        // dpif/show, recirculation ids ignored): the trace replays the real translation.
        const parsed = parseOfprotoTrace(text);
        if (parsed.kind !== 'trace') failures.push(`${f.ufid}: ${parsed.kind}`);
        else {
          const cmp = compareTracedActions(parsed.pass, formatActions(f.actions), ports);
          if (!cmp.same) failures.push(`${f.ufid}: ${cmp.reason}`);
          else agreed++;
        }
      } catch (e) {
        failures.push(`${f.ufid}: ${String(e)} for ${key}`);
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('traced IPv6, VLAN, conntrack state and recirculated keys', () => {
    expect(agreed).toBe(traced.length);
    console.log(`own-key traces whose Datapath actions equal the installed flow's: ${agreed}/${traced.length}`);
    const all = traced.join('\n');
    expect(all).toMatch(/ct_state\(0x[0-9a-f]*[1-9a-f]\)/);
    expect(all).toMatch(/ct_tuple6\(/);
    expect(all).toMatch(/ct_tuple4\(/);
    expect(all).toMatch(/ipv6\(/);
    expect(all).toMatch(/nd\(target=/);
    expect(all).toMatch(/vlan\(vid=100/);
    expect(all).toMatch(/recirc_id\(0x[1-9a-f]/);
  });
});

function execFileSyncLines(...args: string[]): string[] {
  // Scenario names are needed at collection time, before any hook runs.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  return execFileSync(CAPTURE, args, { encoding: 'utf8' }).split('\n').filter((l) => l !== '');
}
