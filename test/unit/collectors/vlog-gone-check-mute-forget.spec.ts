// A mute datapath's record (vlog-gone-check.ts DatapathAnswers) outlived the datapath: once a
// datapath left dpif/show's list it was never asked again, so its run of refusals stayed in memory
// for good (one entry per datapath name ever listed), and a datapath listed again under that name (a
// kernel datapath created again, a bridge added back) inherited it: its first refusal found the run
// already MUTE_AFTER long and a max-idle old, and it stood aside at once, where any datapath's first
// refusal vetoes (a transient failure looks like a removed datapath for a while). Now a datapath the
// list no longer carries is forgotten: listed again, it starts a run of its own. Replies are the
// daemon's own texts (lib/dpctl.c dpctl_error, as in vlog-gone-check-mute.spec.ts).
import { checkFlowIn, DatapathAnswers, MAX_IDLE_MS, MUTE_AFTER } from '../../../src/collectors/vlog-gone-check';
import { ENOENT, NO_DATAPATH as REMOVED } from '../../support/vlog-source';

const UFID = '69e5d83f-02e2-4116-8b20-929856faa0d0';
const NETDEV = 'netdev@ovs-netdev';
const SYSTEM = 'system@ovs-system';

describe('a mute datapath that leaves the datapath list', () => {
  it('is forgotten: listed again, its first refusal vetoes as any first refusal does', async () => {
    const answers = new DatapathAnswers();
    const call = async (_command: string, args: string[]) => {
      throw args[0] === SYSTEM ? REMOVED : ENOENT;
    };
    const every = Math.ceil(MAX_IDLE_MS / (MUTE_AFTER - 1));
    let r;
    for (let i = 0; i < MUTE_AFTER; i++) r = await checkFlowIn(call, [NETDEV, SYSTEM], UFID, { answers, now: i * every });
    expect(r).toEqual({ state: 'gone' }); // mute: removed under vswitchd
    // vswitchd closed it: no longer listed, for a while.
    const t1 = MAX_IDLE_MS * 10;
    expect(await checkFlowIn(call, [NETDEV], UFID, { answers, now: t1 })).toEqual({ state: 'gone' });
    expect(answers.mute(SYSTEM, t1)).toBeNull();
    // Listed again: one refusal is not yet "consistently".
    expect(await checkFlowIn(call, [NETDEV, SYSTEM], UFID, { answers, now: t1 + 1000 })).toMatchObject({ state: 'unknown' });
  });

  it('a check with no datapath list (dpif/show failed) forgets none', async () => {
    const answers = new DatapathAnswers();
    const call = async (_command: string, args: string[]) => {
      throw args[0] === SYSTEM ? REMOVED : ENOENT;
    };
    const every = Math.ceil(MAX_IDLE_MS / (MUTE_AFTER - 1));
    for (let i = 0; i < MUTE_AFTER; i++) await checkFlowIn(call, [NETDEV, SYSTEM], UFID, { answers, now: i * every });
    await checkFlowIn(call, [], UFID, { answers, now: MAX_IDLE_MS * 2 }).catch(() => undefined);
    expect(answers.mute(SYSTEM, MAX_IDLE_MS * 2)).toBe('no_datapath');
  });
});
