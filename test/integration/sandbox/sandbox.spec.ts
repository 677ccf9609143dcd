// The foundation's promise: a real single-host OVN whose datapath really translates traffic,
// and that leaves nothing running when it is stopped.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox } from '../../support/sandbox';
import { waitFor } from '../../support/wait';

jest.setTimeout(120_000);

const ICMP_LSP1_TO_LSP2 =
  'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),' +
  'ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)';

function processesNaming(pattern: string): string[] {
  try {
    return execFileSync('pgrep', ['-a', '-f', '--', pattern], { encoding: 'utf8' }).trim().split('\n');
  } catch (err) {
    if ((err as { status?: number }).status === 1) return []; // pgrep: nothing matched
    throw err;
  }
}

describe('ovn-sandbox', () => {
  let sb: Sandbox;
  let pids: number[] = [];

  beforeAll(async () => {
    sb = await Sandbox.start();
    pids = ['ovsdb-server-nb', 'ovsdb-server-sb', 'ovsdb-server-conf', 'ovn-northd', 'ovs-vswitchd', 'ovn-controller'].map((d) =>
      Number(readFileSync(join(sb.dir, `${d}.pid`), 'utf8')),
    );
  });

  afterAll(async () => {
    await sb?.stop();
  });

  it('runs all six daemons, ovs-vswitchd with its control socket found from its pidfile', async () => {
    expect((await sb.running()).sort()).toEqual(
      ['ovn-controller', 'ovn-northd', 'ovs-vswitchd', 'ovsdb-server-conf', 'ovsdb-server-nb', 'ovsdb-server-sb'].sort(),
    );
    expect(existsSync(sb.vswitchdCtl())).toBe(true);
    expect(await sb.appctl('dpif/show')).toMatch(/netdev@ovs-netdev/);
  });

  it('forwards an ICMP echo from lsp1 to lsp2 through conntrack: recirc_id 0, a recirculated pass, output to vif2', async () => {
    await sb.demoTopology();
    const ports = await sb.dpPorts();
    expect(ports.get('vif1')).toBeDefined();
    await sb.inject('vif1', `in_port(${ports.get('vif1')}),${ICMP_LSP1_TO_LSP2}`, 3);

    const flows = await waitFor('the three passes of the echo', async () => {
      const dump = await sb.appctl('dpctl/dump-flows', '-m');
      const lines = dump.split('\n').filter((l) => l.startsWith('ufid:') && l.includes('in_port(vif1)') && l.includes('icmp(type=8'));
      return lines.some((l) => /actions:.*\bvif2\b/.test(l)) ? lines : undefined;
    });
    const recircOf = (l: string) => Number(/recirc_id\((0x[0-9a-f]+|\d+)\)/.exec(l)![1]);
    const first = flows.filter((l) => recircOf(l) === 0);
    const later = flows.filter((l) => recircOf(l) !== 0);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatch(/actions:ct\(zone=\d+\),recirc\(0x[0-9a-f]+\)/);
    expect(later.length).toBeGreaterThanOrEqual(1);
    // The last pass (the one that outputs) is a recirculated one and ends at lsp2's interface.
    const last = later.find((l) => /actions:.*\bvif2$/.test(l.replace(/, dp-extra-info:.*$/, '')));
    expect(last).toBeDefined();
    expect(last).toMatch(/ct_state\(0x21\/0x3f\)|ct_state\(\+new\+trk/);
  });

  it('stops every daemon of the sandbox and only of this sandbox', async () => {
    const other = await Sandbox.start();
    try {
      await sb.stop({ keepDir: true });
      const alive = pids.filter((p) => {
        try {
          process.kill(p, 0);
          return true;
        } catch {
          return false;
        }
      });
      expect(alive).toEqual([]);
      expect(processesNaming(`--pidfile=${sb.dir}/`)).toEqual([]);
      expect((await other.running()).length).toBe(6);
    } finally {
      await other.stop();
    }
    expect(processesNaming(`--pidfile=${other.dir}/`)).toEqual([]);
  });
});
