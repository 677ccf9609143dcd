// The gone-check on a host with several datapaths (vlog-gone-check.ts checkFlowIn): dpctl/get-flow
// reads one datapath (lib/dpctl.c opt_dpif_open), and a userspace flow_add line names none, so each
// is asked: present in one is present, gone only when every one said ENOENT, unknown when one could
// not say and none had it. test/e2e/vlog-two-datapaths.e2e-spec.ts runs it on real daemons.
import { checkFlowIn } from '../../../src/collectors/vlog-gone-check';
import { UnixctlError } from '../../../src/unixctl/client';

const UFID = '69e5d83f-02e2-4116-8b20-929856faa0d0';
const LINE = 'recirc_id(0),in_port(2),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no), packets:3, bytes:318, used:2.500s, actions:3';
const ENOENT = new UnixctlError('ovs-vswitchd', 'dpctl/get-flow', 'ovs-vswitchd: getting flow (No such file or directory)\n');

/** ovs-vswitchd as each datapath answers; `asked` what it was asked, in order. */
function daemon(answers: Record<string, string | Error>) {
  const asked: string[] = [];
  const call = async (command: string, args: string[]) => {
    expect([command, args.at(-1)]).toEqual(['dpctl/get-flow', `ufid:${UFID}`]);
    const dp = args.length > 1 ? args[0] : '(none)';
    asked.push(dp);
    const a = answers[dp];
    if (a instanceof Error) throw a;
    return a;
  };
  return { call, asked };
}

describe('the gone-check with several datapaths', () => {
  it('finds a flow of the second datapath, asking the first first', async () => {
    const d = daemon({ 'netdev@ovs-netdev': ENOENT, 'system@ovs-system': `${LINE}\n` });
    expect(await checkFlowIn(d.call, ['netdev@ovs-netdev', 'system@ovs-system'], UFID)).toMatchObject({ state: 'present', flow: { packets: 3 } });
    expect(d.asked).toEqual(['netdev@ovs-netdev', 'system@ovs-system']);
  });

  it('stops at the first that has it', async () => {
    const d = daemon({ 'netdev@ovs-netdev': `${LINE}\n`, 'system@ovs-system': ENOENT });
    expect(await checkFlowIn(d.call, ['netdev@ovs-netdev', 'system@ovs-system'], UFID)).toMatchObject({ state: 'present' });
    expect(d.asked).toEqual(['netdev@ovs-netdev']);
  });

  it('is gone only when every datapath says so; one that could not say makes it unknown', async () => {
    expect(await checkFlowIn(daemon({ a: ENOENT, b: ENOENT }).call, ['a', 'b'], UFID)).toEqual({ state: 'gone' });
    expect(await checkFlowIn(daemon({ a: new Error('timed out'), b: ENOENT }).call, ['a', 'b'], UFID)).toMatchObject({ state: 'unknown' });
  });

  it('with no datapath known asks without one, as before', async () => {
    const d = daemon({ '(none)': ENOENT });
    expect(await checkFlowIn(d.call, [], UFID)).toEqual({ state: 'gone' });
    expect(d.asked).toEqual(['(none)']);
  });
});
