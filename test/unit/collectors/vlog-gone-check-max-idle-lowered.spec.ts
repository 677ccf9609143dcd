// other_config:max-idle lowered (or removed) while checks are watched under a larger one
// (vlog-gone-check.ts GoneChecks). 0c7070f read the max-idle when a check was watched, and a check
// already watched kept its due time: after `max-idle=600000` was removed, vswitchd idled flows out
// after 10 s again, but every lifetime watched meanwhile was first asked ten minutes after its last
// packet (up to 49 days under max-idle=4294967295, UINT_MAX, which vswitchd takes): its flow long
// gone, the lifetime read open all that time and its end (the time of the check that found it gone)
// minutes or days late. A check now keeps the max-idle it was watched under and comes no later than
// the current one says; a raised max-idle still applies from the next watch (one check finds the
// flow still installed and is watched under it: vlog-gone-check-max-idle.spec.ts).
import { GoneChecks, maxIdleOf } from '../../../src/collectors/vlog-gone-check';

const UFID = '69e5d83f-02e2-4116-8b20-929856faa0d0';

describe('checks watched under a larger max-idle once it is lowered', () => {
  it.each([['600000'], ['4294967295']])('max-idle %s removed: the check comes a default max-idle and its margin after the last packet', (set) => {
    let maxIdle: string | undefined = set;
    const gone = new GoneChecks(() => maxIdleOf(maxIdle));
    gone.watch(1, UFID, 0); // last used at 0, watched under the large max-idle
    expect(gone.take(12_000, 5)).toEqual([]);
    maxIdle = undefined; // `ovs-vsctl remove Open_vSwitch . other_config max-idle`
    expect(gone.take(11_999, 5)).toEqual([]);
    expect(gone.take(12_000, 5)).toEqual([{ id: 1, ufid: UFID }]);
  });

  it('lowered to 20 s: due 22 s after the last packet, not before', () => {
    let maxIdle = '600000';
    const gone = new GoneChecks(() => maxIdleOf(maxIdle));
    gone.watch(1, UFID, 0);
    maxIdle = '20000';
    expect(gone.take(21_999, 5)).toEqual([]);
    expect(gone.take(22_000, 5)).toEqual([{ id: 1, ufid: UFID }]);
  });

  it('raised: a check already watched keeps its time (as 0c7070f)', () => {
    let maxIdle: string | undefined;
    const gone = new GoneChecks(() => maxIdleOf(maxIdle));
    gone.watch(1, UFID, 0);
    maxIdle = '600000';
    expect(gone.take(12_000, 5)).toEqual([{ id: 1, ufid: UFID }]);
  });
});
