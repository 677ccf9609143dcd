import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseVlogText } from '../../../src/ovs/vlog';
import { parseKey, recircId } from '../../../src/ovs/odp-key';
import { keyUnderMask, toBits } from '../../../src/ovs/key-match';
import { UpcallLinker } from '../../../src/upcalls/upcall-linker';

import { DEBIAN12, VERSIONS, versionDir } from '../../support/captured-model';

/** The ufids of the first three flows of the Debian 12 capture, the one whose ids are named below. */
const FIRST_FLOWS: Record<string, string[]> = {
  [DEBIAN12]: ['29330e32-048b-4506-9eb9-3cabbdaf82c2', '3c0cd04b-4f64-4f10-be26-dc12ebbb7c59', 'c06786ca-4044-468e-8157-05a8bb38e458'],
};

/** ufid → recirc_id of every flow in a scenario's dump. */
function dumpedRecircIds(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of readFileSync(join(dir, 'dump-flows.txt'), 'utf8').matchAll(/^ufid:([0-9a-f-]{36}), .*?recirc_id\((0x[0-9a-f]+|\d+)\)/gm)) out.set(m[1], Number(m[2]));
  return out;
}

function linkLog(file: string) {
  const { records } = parseVlogText(readFileSync(file, 'utf8'));
  const linker = new UpcallLinker<{ line: number; key: string }>({ maxWaitMs: 5000, maxPending: 1000 });
  const links: Array<{ line: number; key: string; ufid: string | null; flowKey: string | null }> = [];
  for (const r of records) {
    const e = r.event;
    if (e?.type === 'upcall' && e.parsedKey) {
      for (const x of linker.addUpcall({ line: r.line, key: e.key }, e.parsedKey, r.time)) links.push({ ...x.upcall, ufid: x.flow?.ufid ?? null, flowKey: x.flow?.key ?? null });
    } else if ((e?.type === 'flow_add' || e?.type === 'flow_mod') && e.parsedKey) {
      const flow = { ufid: e.ufid, megaUfid: e.megaUfid, key: e.key, parsedKey: e.parsedKey, actions: e.actions, at: r.time };
      for (const x of linker.addFlow(flow)) links.push({ ...x.upcall, ufid: flow.ufid, flowKey: flow.key });
    }
  }
  for (const x of linker.flush()) links.push({ ...x.upcall, ufid: null, flowKey: null });
  return links.sort((a, b) => a.line - b.line);
}

describe.each(VERSIONS)('upcall → installed flow, by key under mask, on %s', (version) => {
  const CAPTURED = versionDir(version);

  it('links each pass of a conntrack-recirculated ICMP echo to its own flow, although the flow_add lines come innermost first', () => {
    const links = linkLog(join(CAPTURED, 'icmp-allow-related/vswitchd.log'));
    const dumped = dumpedRecircIds(join(CAPTURED, 'icmp-allow-related'));
    // First packet: three upcalls (recirc 0, then two conntrack recirculations), then their flow_adds innermost first;
    // each upcall is linked to the dumped flow of its own recirc id.
    const first = links.slice(0, 3).map((l) => ({ recirc: recircId(parseKey(l.key)), ufid: l.ufid }));
    expect(first[0].recirc).toBe(0);
    expect(new Set(first.map((l) => l.recirc)).size).toBe(3);
    for (const l of first) expect(dumped.get(l.ufid!)).toBe(l.recirc);
    if (FIRST_FLOWS[version]) expect(first.map((l) => l.ufid)).toEqual(FIRST_FLOWS[version]);
    for (const l of links) {
      expect(l.ufid).not.toBeNull();
      expect(keyUnderMask(parseKey(l.flowKey!), parseKey(l.key))).toBe(true);
    }
  });

  it.each(['tcp-handshake', 'udp', 'arp', 'lb-vip', 'routed', 'ipv6-nd'])('every linked upcall of %s fits its flow, and the recirc id and in_port agree', (scenario) => {
    const links = linkLog(join(CAPTURED, scenario, 'vswitchd.log'));
    expect(links.length).toBeGreaterThan(0);
    for (const l of links.filter((x) => x.ufid)) {
      const up = parseKey(l.key);
      const flow = parseKey(l.flowKey!);
      expect(recircId(flow)).toBe(recircId(up));
      expect(keyUnderMask(flow, up)).toBe(true);
    }
    expect(links.filter((x) => x.ufid).length / links.length).toBeGreaterThan(0.5);
  });
});

describe('upcall linker on hand-made keys', () => {
  it('refuses a flow whose masked field differs from the packet', () => {
    const packet = parseKey('recirc_id(0),in_port(4),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no)');
    expect(keyUnderMask(parseKey('recirc_id(0),in_port(4),eth_type(0x0800),ipv4(dst=10.0.0.2/255.255.255.192,proto=1,frag=no)'), packet)).toBe(true);
    expect(keyUnderMask(parseKey('recirc_id(0),in_port(4),eth_type(0x0800),ipv4(dst=10.0.0.64/255.255.255.192,proto=1,frag=no)'), packet)).toBe(false);
    expect(keyUnderMask(parseKey('recirc_id(0),in_port(4),eth_type(0x0800),ipv4(proto=6,frag=no)'), packet)).toBe(false);
    expect(keyUnderMask(parseKey('ct_state(+new-est+trk),recirc_id(0),in_port(4)'), parseKey('ct_state(0x21),recirc_id(0),in_port(4)'))).toBe(true);
    expect(keyUnderMask(parseKey('ct_state(-new+est+trk),recirc_id(0),in_port(4)'), parseKey('ct_state(0x21),recirc_id(0),in_port(4)'))).toBe(false);
  });

  it('reads addresses as numbers', () => {
    expect(toBits('fe80::1')).toBe((0xfe80n << 112n) | 1n);
    expect(toBits('::ffff:10.0.0.1')).toBe((0xffffn << 32n) | 0x0a000001n);
    expect(toBits('50:54:00:00:00:01')).toBe(0x505400000001n);
    expect(toBits('no')).toBeNull();
  });

  it('releases upcalls that found no flow after the wait, and the oldest when too many wait', () => {
    const l = new UpcallLinker<number>({ maxWaitMs: 1000, maxPending: 2 });
    const k = parseKey('recirc_id(0),in_port(1)');
    expect(l.addUpcall(1, k, 0)).toEqual([]);
    expect(l.addUpcall(2, k, 10)).toEqual([]);
    expect(l.addUpcall(3, k, 20)).toEqual([{ upcall: 1, flow: null }]);
    expect(l.expire(1015).map((r) => r.upcall)).toEqual([2]);
    expect(l.waiting).toBe(1);
    expect(l.flush()).toEqual([{ upcall: 3, flow: null }]);
  });
});
