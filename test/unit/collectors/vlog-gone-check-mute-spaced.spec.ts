// Refusals far apart do not make a datapath mute (vlog-gone-check.ts DatapathAnswers, MUTE_GAP_MS).
// A kernel datapath that exists and holds flows can answer "datapath not found" for a moment: dpctl
// asks it by name only if dp_exists() finds it, which enumerates the kernel's datapaths with a
// netlink dump (lib/dpctl.c dp_exists, opt_dpif_open; lib/dpif-netlink.c dpif_netlink_enumerate), and
// a dump that fails (nl_dump_done's error) reads as no such datapath: "datapath not found (Invalid
// argument)", dpctl_error's text. A run of refusals had no bound on the time between them, so on a
// quiet host (nothing asks the datapath between two new flows' checks) three such failures an hour
// apart made it mute, "holds no flow", and the third flow, live in it, read gone (its lifetime would
// end gone_unlogged). An answer in between already started the run again; a gap longer than
// MUTE_GAP_MS now does too. Replies are the daemon's own texts (as in vlog-gone-check-mute.spec.ts).
import { checkFlowIn, DatapathAnswers, MAX_IDLE_MS, MUTE_AFTER } from '../../../src/collectors/vlog-gone-check';
import { ENOENT, NO_DATAPATH as NOT_FOUND } from '../../support/vlog-source';

const UFID = '69e5d83f-02e2-4116-8b20-929856faa0d0';
const LINE = 'recirc_id(0),in_port(2),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no), packets:3, bytes:318, used:2.500s, actions:3';
const NETDEV = 'netdev@ovs-netdev';
const SYSTEM = 'system@ovs-system';
const HOUR = 3_600_000;

/** The flow lives in the kernel datapath; `failing` says whether its enumeration fails at that check. */
const daemon = (failing: () => boolean) => async (_command: string, args: string[]) => {
  if (args[0] === NETDEV) throw ENOENT;
  if (failing()) throw NOT_FOUND;
  return `${LINE}\n`;
};

describe('a datapath whose refusals are far apart', () => {
  it('is not mute: a flow live in it does not read gone after three transient failures an hour apart', async () => {
    const answers = new DatapathAnswers();
    const call = daemon(() => true); // each time it is asked, once an hour: the dump fails
    const results = [];
    for (let i = 0; i < MUTE_AFTER; i++) results.push(await checkFlowIn(call, [NETDEV, SYSTEM], UFID, { answers, now: i * HOUR }));
    expect(results.map((r) => r.state)).toEqual(['unknown', 'unknown', 'unknown']);
    expect(answers.mute(SYSTEM, (MUTE_AFTER - 1) * HOUR)).toBeNull();
    // Asked again within a minute, it answers: the flow is there.
    expect(await checkFlowIn(daemon(() => false), [NETDEV, SYSTEM], UFID, { answers, now: (MUTE_AFTER - 1) * HOUR + 12_000 })).toMatchObject({
      state: 'present',
      dp: SYSTEM,
    });
  });

  it('answers in between start the run again (as before)', async () => {
    const answers = new DatapathAnswers();
    let n = 0;
    const call = daemon(() => n++ % 2 === 0); // refuses, answers, refuses, ...
    for (let i = 0; i < 2 * MUTE_AFTER; i++) await checkFlowIn(call, [NETDEV, SYSTEM], UFID, { answers, now: i * MAX_IDLE_MS });
    expect(answers.mute(SYSTEM, 2 * MUTE_AFTER * MAX_IDLE_MS)).toBeNull();
  });

  it('refusing consistently, each within a minute (MUTE_GAP_MS) of the one before, still makes it mute', async () => {
    const answers = new DatapathAnswers();
    const call = daemon(() => true);
    const every = 2 * MAX_IDLE_MS; // a vetoed lifetime's next check comes a max-idle and its margin later
    let r;
    for (let i = 0; i < MUTE_AFTER; i++) r = await checkFlowIn(call, [NETDEV, SYSTEM], UFID, { answers, now: i * every });
    expect(r).toEqual({ state: 'gone' });
    // Not asked for an hour (nothing to check), then a no-reply: an hour-old run no longer stands aside.
    const t = (MUTE_AFTER - 1) * every + HOUR;
    const timeout = async (_c: string, args: string[]) => {
      if (args[0] === NETDEV) throw ENOENT;
      throw new Error('ovs-vswitchd: dpctl/get-flow timed out after 10000 ms');
    };
    expect(await checkFlowIn(timeout, [NETDEV, SYSTEM], UFID, { answers, now: t })).toMatchObject({ state: 'unknown' });
  });
});
