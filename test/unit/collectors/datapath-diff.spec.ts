import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatapathFlowTable, FlowEvent } from '../../../src/collectors/datapath-diff';
import { parseDumpFlows } from '../../../src/ovs/dump-flows';
import { VERSIONS, versionDir } from '../../support/captured-model';

const kinds = (evs: FlowEvent[]) => evs.map((e) => `${e.type} ${e.flow.ufid.slice(0, 8)}${e.type === 'ukey_removed' ? ' ' + e.reason : ''}`).sort();

// The ICMP echo request and reply dump of every captured OVS/OVN version.
describe.each(VERSIONS)('datapath flow lifetimes from successive dumps (%s)', (version) => {
  const dumpText = readFileSync(join(versionDir(version), 'icmp-allow-related/dump-flows.txt'), 'utf8');
  const dump = () => parseDumpFlows(dumpText).items;

  it('creates one lifetime per UFID of a real dump, and links the recirculation chain of the ICMP echo', () => {
    const t = new DatapathFlowTable();
    const { events, links } = t.apply(dump(), 't1');
    expect(events.every((e) => e.type === 'ukey_created')).toBe(true);
    expect(events).toHaveLength(6);
    // Echo request from vif1: recirc 0 → 0x1 → 0x2 (and the reply from vif2 likewise).
    const byUfid = new Map(events.map((e) => [e.flow.ufid, e.flow]));
    const first = [...byUfid.values()].find((f) => f.recircId === 0 && f.inPort === 'vif1')!;
    const chain = [first];
    for (;;) {
      const next = links.filter((l) => l.parent === chain[chain.length - 1]).map((l) => l.child);
      if (next.length !== 1) break;
      chain.push(next[0]);
    }
    expect(chain.length).toBe(3);
    for (let i = 1; i < chain.length; i++) expect(chain[i - 1].recircTargets).toContain(chain[i].recircId);
    expect(chain[2].recircTargets).toEqual([]); // the last pass outputs
    expect(chain.every((f) => f.inPort === 'vif1')).toBe(true);
    expect(t.parentsOf(chain[1])).toEqual([chain[0]]);
  });

  it('an unchanged dump yields nothing; new counters yield updates', () => {
    const t = new DatapathFlowTable();
    t.apply(dump(), 't1');
    expect(t.apply(dump(), 't2').events).toEqual([]);
    const bumped = dumpText.replace(/packets:(\d+), bytes:(\d+)/g, (_, p, b) => `packets:${Number(p) + 3}, bytes:${Number(b) + 300}`);
    const { events } = t.apply(parseDumpFlows(bumped).items, 't3');
    expect(events.map((e) => e.type)).toEqual(Array(6).fill('ukey_updated'));
    expect(events.every((e) => e.type === 'ukey_updated' && e.packetsDelta === 3)).toBe(true);
  });

  it('a UFID that leaves the dump is removed; back with other actions or lower counters it is a new lifetime', () => {
    const t = new DatapathFlowTable();
    const { events: created } = t.apply(dump(), 't1');
    const victim = created[0].flow;
    const without = dumpText.split('\n').filter((l) => !l.includes(victim.ufid)).join('\n');
    expect(kinds(t.apply(parseDumpFlows(without).items, 't2').events)).toEqual([`ukey_removed ${victim.ufid.slice(0, 8)} gone`]);
    const back = t.apply(dump(), 't3').events;
    expect(kinds(back)).toEqual([`ukey_created ${victim.ufid.slice(0, 8)}`]);
    expect((back[0].flow as { firstSeen: string }).firstSeen).toBe('t3');

    const other = dumpText.replace(new RegExp(`(ufid:${victim.ufid}.*actions:)(.*?)(, dp-extra-info.*)?$`, 'm'), '$1drop$3');
    const changed = t.apply(parseDumpFlows(other).items, 't4').events;
    expect(kinds(changed)).toEqual([`ukey_created ${victim.ufid.slice(0, 8)}`, `ukey_removed ${victim.ufid.slice(0, 8)} actions_changed`]);
  });

  it('ends every lifetime when ovs-vswitchd restarts', () => {
    const t = new DatapathFlowTable();
    t.apply(dump(), 't1');
    const evs = t.clear('vswitchd_restarted', 't2');
    expect(evs).toHaveLength(6);
    expect(t.live.size).toBe(0);
  });
});

describe('recirculation ids shared by different packets', () => {
  // Real lines (demo sandbox): an ICMP echo and a DNS query from vif1 both leave pass 0 as
  // ct(zone=1),recirc(0x1); their second passes differ by ip proto.
  const shared = [
    'ufid:00000000-0000-4000-8000-000000000001, recirc_id(0),in_port(vif1),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:01/01:00:00:00:00:00,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1/0.0.0.0,dst=10.0.0.2/0.0.0.0,proto=1,tos=0/0,ttl=64/0,frag=no),icmp(type=8/0,code=0/0), packets:4, bytes:424, used:0.1s, actions:ct(zone=1),recirc(0x1)',
    'ufid:00000000-0000-4000-8000-000000000002, recirc_id(0),in_port(vif1),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:01/01:00:00:00:00:00,dst=50:54:00:00:00:03),eth_type(0x0800),ipv4(src=10.0.0.1/0.0.0.0,dst=10.0.0.3/0.0.0.0,proto=17,tos=0/0,ttl=64/0,frag=no),udp(src=5353/0xf000,dst=53/0), packets:4, bytes:424, used:0.1s, actions:ct(zone=1),recirc(0x1)',
    'ufid:00000000-0000-4000-8000-000000000003, ct_state(0x21/0x3f),recirc_id(0x1),in_port(vif1),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1/0.0.0.0,dst=10.0.0.2/0.0.0.0,proto=1,tos=0/0,ttl=64/0,frag=no),icmp(type=8/0,code=0/0), packets:4, bytes:424, used:0.1s, actions:ct(commit,zone=1,mark=0/0x1,nat(src)),ct(zone=4),recirc(0x2)',
    'ufid:00000000-0000-4000-8000-000000000004, ct_state(0x21/0x3f),recirc_id(0x1),in_port(vif1),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:03),eth_type(0x0800),ipv4(src=10.0.0.1/0.0.0.0,dst=10.0.0.3/0.0.0.0,proto=17,tos=0/0,ttl=64/0,frag=no),udp(src=5353/0xf000,dst=53/0), packets:4, bytes:424, used:0.1s, actions:ct(commit,zone=1,mark=0/0x1,nat(src)),ct(zone=5),recirc(0x3)',
  ].join('\n');

  it('links each second pass to the first pass of its own packet only', () => {
    const t = new DatapathFlowTable();
    const { links } = t.apply(parseDumpFlows(shared).items, 't1');
    const pairs = links.map((l) => `${l.parent.ufid.slice(-1)}>${l.child.ufid.slice(-1)}`).sort();
    expect(pairs).toEqual(['1>3', '2>4']);
  });
});

describe('many connections sharing recirculation ids (megaflows off)', () => {
  // Every TCP connection lsp1 -> lsp2 leaves pass 0 as ct(zone=1),recirc(0x1) and pass 0x1 as
  // ...,recirc(0x2): the ids are shared, only the 5-tuple tells the connections apart.
  function connection(n: number): string[] {
    const sport = 10000 + n;
    const ufid = (pass: number) => `00000000-0000-4000-8000-${(n * 4 + pass).toString(16).padStart(12, '0')}`;
    const ip = `eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=${sport},dst=80)`;
    return [
      `ufid:${ufid(0)}, recirc_id(0),in_port(vif1),${ip}, packets:1, bytes:60, used:0.1s, actions:ct(zone=1),recirc(0x1)`,
      `ufid:${ufid(1)}, ct_state(0x21),recirc_id(0x1),in_port(vif1),${ip}, packets:1, bytes:60, used:0.1s, actions:ct(commit,zone=1,mark=0/0x1,nat(src)),ct(zone=4),recirc(0x2)`,
      `ufid:${ufid(2)}, ct_state(0x21),recirc_id(0x2),in_port(vif1),${ip}, packets:1, bytes:60, used:0.1s, actions:ct(commit,zone=4,mark=0/0x1,nat(src)),vif2`,
    ];
  }

  it('links each pass to its own connection only, in one index lookup per pass', () => {
    const n = 3000;
    const lines = Array.from({ length: n }, (_, i) => connection(i)).flat();
    const t = new DatapathFlowTable();
    const { links } = t.apply(parseDumpFlows(lines.join('\n')).items, 't1');
    expect(links).toHaveLength(2 * n);
    const conn = (ufid: string) => Math.floor(parseInt(ufid.slice(-12), 16) / 4);
    expect(links.filter((l) => conn(l.parent.ufid) !== conn(l.child.ufid))).toEqual([]);
    const mid = [...t.live.values()].find((f) => f.recircId === 1)!;
    expect(t.parentsOf(mid)).toHaveLength(1);
    expect(t.childrenOf(mid)).toHaveLength(1);
  });
});
