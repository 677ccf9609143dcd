// A datapath whose dpctl/get-flow never answers "no such flow" (vlog-gone-check.ts). Gone needs every
// datapath of dpif/show to say the flow is not there (889e14b, 35fdd6c), so one datapath that always
// errs made every check "unknown" for good, and no unlogged deletion ever ended a lifetime. From OVS's
// sources (lib/dpctl.c dpctl_get_flow, opt_dpif_open; lib/dpif-netdev.c dpif_netdev_flow_get;
// lib/dpif-netlink.c and the kernel's ovs_flow_cmd_get) the answers are:
// - "getting flow (No such file or directory)": ENOENT, this datapath has no flow of that UFID;
// - "datapath not found (Invalid argument)": dpctl enumerated the datapaths of that type and that one
//   is not among them (a datapath removed under vswitchd): it holds no flow at all;
// - "opening datapath (…)", "getting flow (<other errno>)" (a kernel without UFID lookups answers
//   EINVAL: no key given): the datapath exists and cannot answer; a flow may live there;
// - no reply (socket refused, timeout): nothing learnt, vswitchd's or the datapath's.
// Once a datapath has answered so several times in a row over at least a max-idle (a transient
// failure of a few checks is not "consistently"), it is mute: one that does not exist counts as not
// having the flow; one that cannot answer no longer vetoes a lifetime whose flow an earlier check
// found in another datapath (a UFID lives in the datapath that installed it) once that one says it
// is gone, but still does for one never found elsewhere: its flow may be in the mute one, and reading
// it gone would end a live flow. A datapath that answers again is listened to again. Replies are the
// daemon's own texts (dpctl_error); test/e2e/vlog-two-datapaths.e2e-spec.ts has a real removed one.
import { checkFlowIn, DatapathAnswers, MAX_IDLE_MS, MUTE_AFTER } from '../../../src/collectors/vlog-gone-check';
import { UnixctlError } from '../../../src/unixctl/client';

const UFID = '69e5d83f-02e2-4116-8b20-929856faa0d0';
const LINE = 'recirc_id(0),in_port(2),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no), packets:3, bytes:318, used:2.500s, actions:3';
const said = (text: string) => new UnixctlError('ovs-vswitchd', 'dpctl/get-flow', `${text}\n`);
const ENOENT = said('ovs-vswitchd: getting flow (No such file or directory)');
const REMOVED = said('ovs-vswitchd: datapath not found (Invalid argument)');
const NO_UFID = said('ovs-vswitchd: getting flow (Invalid argument)');
const TIMEOUT = new Error('ovs-vswitchd: dpctl/get-flow timed out after 10000 ms');

/** ovs-vswitchd as each datapath answers now (`answers` may be changed between checks). */
function daemon(answers: Record<string, string | Error>) {
  return async (_command: string, args: string[]) => {
    const a = answers[args[0]];
    if (a instanceof Error) throw a;
    return a;
  };
}

/** `n` checks of UFID a second apart from `t0`, each with the given home; the last one's result. */
async function checks(call: ReturnType<typeof daemon>, answers: DatapathAnswers, n: number, opts: { home?: string; t0?: number; every?: number } = {}) {
  let r;
  for (let i = 0; i < n; i++) r = await checkFlowIn(call, ['netdev@ovs-netdev', 'system@ovs-system'], UFID, { answers, home: opts.home, now: (opts.t0 ?? 0) + i * (opts.every ?? 1000) });
  return r!;
}

describe('the gone-check beside a datapath that always errs', () => {
  const every = Math.ceil(MAX_IDLE_MS / (MUTE_AFTER - 1));

  it('a datapath dpctl no longer finds (removed) stops vetoing once it has said so consistently; the flow reads gone', async () => {
    const call = daemon({ 'netdev@ovs-netdev': ENOENT, 'system@ovs-system': REMOVED });
    const answers = new DatapathAnswers();
    // At once: a removed datapath and a transient failure look alike for a while.
    expect(await checks(call, answers, MUTE_AFTER, { every: 10 })).toMatchObject({ state: 'unknown' });
    expect(await checks(call, answers, MUTE_AFTER, { every, t0: 10 * MUTE_AFTER })).toEqual({ state: 'gone' });
  });

  it('a datapath that cannot answer does not veto a flow found in another one, but does one never found elsewhere', async () => {
    const answers = new DatapathAnswers();
    const call = daemon({ 'netdev@ovs-netdev': `${LINE}\n`, 'system@ovs-system': NO_UFID });
    // Found in netdev@ovs-netdev (asked first): its home.
    expect(await checks(call, answers, 1)).toMatchObject({ state: 'present', dp: 'netdev@ovs-netdev' });
    const gone = daemon({ 'netdev@ovs-netdev': ENOENT, 'system@ovs-system': NO_UFID });
    expect(await checks(gone, answers, MUTE_AFTER, { every, home: 'netdev@ovs-netdev' })).toEqual({ state: 'gone' });
    // Never found anywhere: it may live in the datapath that cannot answer.
    expect(await checks(gone, answers, MUTE_AFTER, { every, t0: MAX_IDLE_MS * 2 })).toMatchObject({ state: 'unknown' });
    expect(await checks(gone, answers, 1, { home: 'system@ovs-system', t0: MAX_IDLE_MS * 4 })).toMatchObject({ state: 'unknown' });
  });

  it('a datapath that answers again is listened to again; no reply never mutes one', async () => {
    const answers = new DatapathAnswers();
    const now: Record<string, string | Error> = { 'netdev@ovs-netdev': ENOENT, 'system@ovs-system': REMOVED };
    const call = daemon(now);
    expect(await checks(call, answers, MUTE_AFTER + 1, { every })).toEqual({ state: 'gone' });
    // Back (say, created again): it has the flow.
    now['system@ovs-system'] = `${LINE}\n`;
    expect(await checks(call, answers, 1, { t0: MAX_IDLE_MS * 2 })).toMatchObject({ state: 'present', dp: 'system@ovs-system' });
    // Its next refusal vetoes again, as any first one.
    now['system@ovs-system'] = REMOVED;
    expect(await checks(call, answers, 1, { t0: MAX_IDLE_MS * 3 })).toMatchObject({ state: 'unknown' });
    // vswitchd not answering (a timeout) is never "consistently": a minute of it still vetoes.
    now['system@ovs-system'] = TIMEOUT;
    expect(await checks(call, answers, 60, { t0: MAX_IDLE_MS * 4 })).toMatchObject({ state: 'unknown' });
  });
});
