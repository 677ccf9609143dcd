// Three chassis on one host (scripts/ovn-sandbox start --chassis 3, multi-topology): a packet from a VM
// on hv1 leaves through a Geneve tunnel carrying the logical datapath's and ports' southbound keys, and
// the chassis that owns the destination receives it, from the real daemons (issue 19's groundwork).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pushReaches, tunnelMatch, tunnelPushes } from '../../../src/ovs/odp-tunnel';
import { SANDBOX_SCRIPT } from '../../support/sandbox';
import { waitFor } from '../../support/wait';

jest.setTimeout(180_000);
const run = promisify(execFile);

const ICMP_SAME = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)';
const ICMP_ROUTED = 'eth(src=50:54:00:00:00:01,dst=00:00:00:00:ff:01),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.1.3,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)';
const TCP_80 = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=40000,dst=80),tcp_flags(syn)';
const DAEMONS = 3 + 2 + 3 * 3; // NB, SB, northd; the network's ovsdb + vswitchd; per chassis ovsdb, vswitchd, controller

let dir: string;

async function sandbox(...args: string[]): Promise<string> {
  const [cmd, ...rest] = args;
  return (await run(SANDBOX_SCRIPT, [cmd, dir, ...rest], { maxBuffer: 64 << 20 })).stdout;
}
const ctl = (hv: number, ...args: string[]) => sandbox('ctl', '--chassis', String(hv), ...args);
const sbctl = async (...args: string[]) =>
  (await run('ovn-sbctl', [`--db=unix:${dir}/ovnsb_db.sock`, '--no-leader-only', ...args])).stdout.trim();

/** Southbound tunnel key of a datapath (by name) or of a port binding. */
async function datapathKey(name: string): Promise<number> {
  return Number(await sbctl('--bare', '--columns=tunnel_key', 'find', 'Datapath_Binding', `external_ids:name=${name}`));
}
async function portKey(lsp: string): Promise<number> {
  return Number(await sbctl('--bare', '--columns=tunnel_key', 'find', 'Port_Binding', `logical_port=${lsp}`));
}

interface DpFlow { key: string; actions: string }
async function flows(hv: number): Promise<DpFlow[]> {
  return (await ctl(hv, 'dpctl/dump-flows', '-m'))
    .split('\n')
    .filter((l) => l.startsWith('ufid:'))
    .map((l) => ({
      key: l.slice(0, l.indexOf(', packets:')),
      actions: l.slice(l.indexOf(', actions:') + ', actions:'.length).replace(/, dp-extra-info:.*$/, ''),
    }));
}

/** TX packets of a datapath port (dpctl/show -s): what really left through the VM's interface. */
async function txPackets(hv: number, iface: string): Promise<number> {
  const out = await ctl(hv, 'dpctl/show', '-s');
  const at = out.search(new RegExp(`port \\d+: ${iface}\\b`));
  if (at < 0) throw new Error(`no port ${iface} on hv${hv}`);
  return Number(/TX packets:(\d+)/.exec(out.slice(at))![1]);
}

async function inject(flow: string): Promise<void> {
  const show = await ctl(1, 'dpif/show');
  const port = /\bvif1 \d+\/(\d+)/.exec(show)![1];
  await sandbox('inject', '--chassis', '1', 'vif1', `in_port(${port}),${flow}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'livetrace-mc-'));
  await sandbox('start', '--chassis', '3', '--pair', process.env.LIVETRACE_PAIR ?? 'debian12');
  await sandbox('multi-topology');
});

afterAll(async () => {
  if (!dir) return;
  await run(SANDBOX_SCRIPT, ['stop', dir]).catch(() => undefined);
  if (!process.env.LIVETRACE_KEEP_SANDBOX) rmSync(dir, { recursive: true, force: true });
});

describe('ovn-sandbox --chassis 3', () => {
  it('runs every daemon, each chassis registered with its own geneve encap IP and its own sockets', async () => {
    const status = (await run(SANDBOX_SCRIPT, ['status', dir])).stdout.trim().split('\n');
    expect(status.filter((l) => l.endsWith(' running'))).toHaveLength(DAEMONS);
    for (const hv of [1, 2, 3]) {
      expect(await sbctl('--bare', '--columns=ip', 'find', 'Encap', `chassis_name=hv${hv}`, 'type=geneve')).toBe(`192.168.0.${hv}`);
      const pid = readFileSync(join(dir, `hv${hv}`, 'ovs-vswitchd.pid'), 'utf8').trim();
      expect(existsSync(join(dir, `hv${hv}`, `ovs-vswitchd.${pid}.ctl`))).toBe(true);
      // Each chassis has tunnels to the two others, named by their system-id.
      const ports = await ctl(hv, 'dpif/show');
      for (const other of [1, 2, 3].filter((o) => o !== hv)) expect(ports).toMatch(new RegExp(`remote_ip=192\\.168\\.0\\.${other}\\)`));
    }
  });

  it('hv1 encapsulates lsp1 → lsp2 with VNI = sw0 key and the ports keys; hv2 matches that tunnel and delivers to vif2', async () => {
    const [vni, ingress, egress] = [await datapathKey('sw0'), await portKey('lsp1'), await portKey('lsp2')];
    const before = await txPackets(2, 'vif2');
    await inject(ICMP_SAME);
    const sent = await waitFor('the tunnel push on hv1', async () =>
      (await flows(1)).find((f) => f.key.includes('dst=50:54:00:00:00:02') && f.key.includes('icmp(') && f.actions.includes('tnl_push(')));
    // The literal form, as docs/multi-chassis.md and facts §7 describe it.
    const opt = `0x${((ingress << 16) | egress).toString(16)}`;
    expect(sent.actions).toContain(`geneve(crit,vni=0x${vni.toString(16)},options({class=0x102,type=0x80,len=4,${opt}}))`);
    expect(sent.actions).toMatch(/ipv4\(src=192\.168\.0\.1,dst=192\.168\.0\.2,/);
    expect(tunnelPushes(sent.actions)).toEqual([expect.objectContaining({ vni: `0x${vni.toString(16)}`, ovn: { ingress, egress }, remoteIp: '192.168.0.2', outPort: 'br-phys' })]);

    const received = await waitFor('the delivery on hv2', async () => (await flows(2)).find((f) => f.actions === 'vif2'));
    expect(received.key).toContain(`tunnel(tun_id=0x${vni.toString(16)},src=192.168.0.1,dst=192.168.0.2,`);
    expect(received.key).toContain(`geneve({class=0x102,type=0x80,len=4,${opt}/0x7fffffff})`);
    expect(received.key).toContain('in_port(genev_sys_6081)');
    expect(pushReaches(tunnelPushes(sent.actions)[0], tunnelMatch(received.key)!)).toBe(true);
    await waitFor('the echo to leave through vif2', async () => (await txPackets(2, 'vif2')) > before);
  });

  it('routes lsp1 → lsp3 on hv1 (the distributed router) and tunnels it with sw1 keys to hv3, which delivers it', async () => {
    const [vni, ingress, egress] = [await datapathKey('sw1'), await portKey('sw1-lr0'), await portKey('lsp3')];
    const before = await txPackets(3, 'vif3');
    await inject(ICMP_ROUTED);
    const sent = await waitFor('the routed push on hv1', async () =>
      (await flows(1)).find((f) => f.key.includes('dst=00:00:00:00:ff:01') && f.actions.includes('tnl_push(')));
    expect(sent.actions).toMatch(/set\(ipv4\(ttl=63\)\)/);
    expect(tunnelPushes(sent.actions)).toEqual([expect.objectContaining({ vni: `0x${vni.toString(16)}`, ovn: { ingress, egress }, remoteIp: '192.168.0.3' })]);
    const received = await waitFor('the delivery on hv3', async () => (await flows(3)).find((f) => f.actions === 'vif3'));
    expect(tunnelMatch(received.key)).toMatchObject({ vni: `0x${vni.toString(16)}`, ovn: { ingress, egress }, src: '192.168.0.1', dst: '192.168.0.3' });
    expect(received.key).toMatch(/eth\(src=00:00:00:00:ff:02,/);
    await waitFor('the echo to leave through vif3', async () => (await txPackets(3, 'vif3')) > before);
  });

  it("drops TCP to port 80 on hv2 by sw0's to-lport ACL, after hv1 tunnelled it", async () => {
    const before = await txPackets(2, 'vif2');
    await inject(TCP_80);
    const dropped = await waitFor('the drop on hv2', async () =>
      (await flows(2)).find((f) => f.key.includes('tunnel(') && /tcp\(src=40000(\/0)?,dst=80/.test(f.key) && /^drop$|^$/.test(f.actions)));
    expect(tunnelMatch(dropped.key)!.ovn).toEqual({ ingress: await portKey('lsp1'), egress: await portKey('lsp2') });
    expect(await txPackets(2, 'vif2')).toBe(before);
  });

  it('stops every daemon of every chassis', async () => {
    const pids = ['ovsdb-server-nb', 'ovsdb-server-sb', 'ovn-northd', 'main/ovs-vswitchd', 'main/ovsdb-server-conf',
      ...[1, 2, 3].flatMap((k) => ['ovsdb-server-conf', 'ovs-vswitchd', 'ovn-controller'].map((d) => `hv${k}/${d}`))]
      .map((p) => Number(readFileSync(join(dir, `${p}.pid`), 'utf8')));
    expect(pids).toHaveLength(DAEMONS);
    await run(SANDBOX_SCRIPT, ['stop', dir]);
    const alive = pids.filter((p) => {
      try {
        process.kill(p, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  });
});
