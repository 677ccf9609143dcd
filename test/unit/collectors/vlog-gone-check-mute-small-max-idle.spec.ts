// A max-idle below the default does not shrink what makes a datapath mute (vlog-gone-check.ts
// DatapathAnswers). 0c7070f scaled the run's span (a max-idle) and gap (six) with
// other_config:max-idle, which vswitchd takes as low as 0 (ofproto_set_max_idle: no minimum; the
// revalidators then delete every idle flow at their next round). At 0 the gap was 0 ms: no two
// refusals were ever "in a row", so a datapath that can hold no flow (removed under vswitchd: "datapath
// not found") vetoed every lifetime for good, each asked again every 2 s (a max-idle and its margin)
// and never ended. At 500 ms the span was half a second: three refusals in one tick's burst of checks
// (a kernel datapath whose netlink dump fails for a moment reads as "datapath not found", as in
// vlog-gone-check-mute-spaced.spec.ts) made it mute, and a flow live in it read gone. Below the
// default the default's span and gap hold (as before 0c7070f); above it they still scale. Replies
// are the daemon's own texts (as in vlog-gone-check-mute.spec.ts).
import { checkFlowIn, DatapathAnswers, maxIdleOf } from '../../../src/collectors/vlog-gone-check';
import { UnixctlError } from '../../../src/unixctl/client';

const UFID = '69e5d83f-02e2-4116-8b20-929856faa0d0';
const said = (text: string) => new UnixctlError('ovs-vswitchd', 'dpctl/get-flow', `${text}\n`);
const ENOENT = said('ovs-vswitchd: getting flow (No such file or directory)');
const NOT_FOUND = said('ovs-vswitchd: datapath not found (Invalid argument)');
const LINE = 'recirc_id(0),in_port(2),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no), packets:3, bytes:318, used:0.100s, actions:3';
const NETDEV = 'netdev@ovs-netdev';
const SYSTEM = 'system@ovs-system';

describe('a datapath that refuses, under a max-idle below the default', () => {
  it('max-idle 0: one that refuses every check consistently is mute, and the flow gone from the other reads gone', async () => {
    const answers = new DatapathAnswers(() => maxIdleOf('0'));
    const call = async (_c: string, args: string[]) => {
      if (args[0] === NETDEV) throw ENOENT;
      throw NOT_FOUND; // removed under vswitchd, still listed
    };
    const states: string[] = [];
    // The vetoed lifetime is asked again a max-idle (0) and its margin (2 s) after each answer, for a minute.
    for (let t = 0; t <= 60_000; t += 2_000) states.push((await checkFlowIn(call, [NETDEV, SYSTEM], UFID, { answers, now: t })).state);
    expect(states).toContain('gone');
  });

  it('max-idle 500: three refusals in one burst of checks are not "consistently": a flow live in that datapath is not read gone', async () => {
    const answers = new DatapathAnswers(() => maxIdleOf('500'));
    let failing = true;
    const call = async (_c: string, args: string[]) => {
      if (args[0] === NETDEV) throw ENOENT;
      if (failing) throw NOT_FOUND; // its enumeration fails for a moment
      return `${LINE}\n`;
    };
    const states: string[] = [];
    for (const t of [0, 300, 600]) states.push((await checkFlowIn(call, [NETDEV, SYSTEM], UFID, { answers, now: t })).state);
    expect(states).toEqual(['unknown', 'unknown', 'unknown']);
    failing = false;
    expect(await checkFlowIn(call, [NETDEV, SYSTEM], UFID, { answers, now: 2_600 })).toMatchObject({ state: 'present', dp: SYSTEM });
  });

  it('max-idle 600000: the span and gap still scale up (refusals every 10 min are in a row)', async () => {
    const answers = new DatapathAnswers(() => maxIdleOf('600000'));
    const call = async (_c: string, args: string[]) => {
      if (args[0] === NETDEV) throw ENOENT;
      throw NOT_FOUND;
    };
    const states: string[] = [];
    for (let i = 0; i < 3; i++) states.push((await checkFlowIn(call, [NETDEV, SYSTEM], UFID, { answers, now: i * 602_000 })).state);
    expect(states).toEqual(['unknown', 'unknown', 'gone']);
  });
});
