import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import * as fc from 'fast-check';
import { OvsParseError } from '../../../src/ovs/parse-error';
import { parseVlogDatagrams, parseVlogText, VlogParser, VlogRecord } from '../../../src/ovs/vlog';
import { VERSIONS, versionDir, versionScenarios } from '../../support/captured-model';

const FIXTURES = join(__dirname, '..', '..', 'fixtures');

/** Every captured vswitchd log of every version, so new scenarios and versions are covered without touching this file. */
const LOGS = versionScenarios()
  .filter(([v, s]) => existsSync(join(versionDir(v), s, 'vswitchd.log')))
  .map(([version, scenario]) => ({ version, scenario, dir: join(versionDir(version), scenario), text: readFileSync(join(versionDir(version), scenario, 'vswitchd.log'), 'utf8') }));

const events = (records: VlogRecord[], type: string) => records.filter((r) => r.event?.type === type);

describe('vswitchd log records from every captured log', () => {
  it.each(VERSIONS)('has captured logs of %s to read', (version) => {
    expect(LOGS.filter((l) => l.version === version).length).toBeGreaterThanOrEqual(5);
  });

  it.each(LOGS.map((l) => [`${l.version}/${l.scenario}`, l] as const))('%s', (_name, log) => {
    const { records, errors } = parseVlogText(log.text);
    expect(errors).toEqual([]);
    // Nothing accepted is lost: every line belongs to exactly one record.
    const lines = log.text.split('\n').filter((l) => l !== '').length;
    const flowMatches = records.filter((r) => r.event?.type === 'flow_add' || r.event?.type === 'flow_mod').filter((r) => r.event && 'flowMatch' in r.event && r.event.flowMatch !== null).length;
    expect(records.reduce((n, r) => n + r.message.split('\n').length, 0) + flowMatches).toBe(lines);

    const upcalls = events(records, 'upcall');
    expect(upcalls.length).toBeGreaterThan(0);
    for (const r of upcalls) {
      if (r.event?.type !== 'upcall') continue;
      expect(r.module).toBe('dpif_netdev');
      expect(['miss', 'action']).toContain(r.event.upcallType);
      expect(r.event.parsedKey).not.toBeNull();
      expect(r.event.packet).toMatch(/^[a-z0-9]+,/);
    }
    const adds = events(records, 'flow_add');
    expect(adds.length).toBeGreaterThan(0);
    for (const r of adds) {
      if (r.event?.type !== 'flow_add') continue;
      expect(r.event.ufid).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.event.flowMatch).toMatch(/^recirc_id=/);
      expect(r.event.parsedKey).not.toBeNull();
      expect(r.event.parsedActions).not.toBeNull();
    }
    // No `flow match:` is left unjoined: each follows its flow_add in the same thread.
    expect(events(records, 'flow_match')).toEqual([]);
  });

  it.each(VERSIONS)('%s: finds the installed flows of the dump among the logged flow_adds', (version) => {
    let found = 0;
    let total = 0;
    for (const log of LOGS.filter((l) => l.version === version)) {
      const dump = readFileSync(join(log.dir, 'dump-flows.txt'), 'utf8');
      const ufids = new Set([...dump.matchAll(/^ufid:([0-9a-f-]{36})/gm)].map((m) => m[1]));
      const logged = new Set(parseVlogText(log.text).records.flatMap((r) => (r.event?.type === 'flow_add' ? [r.event.ufid] : [])));
      total += ufids.size;
      found += [...ufids].filter((u) => logged.has(u)).length;
    }
    console.log(`${version}: vlog: ${found}/${total} dumped datapath flows have their flow_add in the captured log`);
    expect(found).toBeGreaterThan(0);
  });

  it('gives the same records line by line as on the whole text, and emits an upcall on its last line', () => {
    const log = LOGS[0];
    const parser = new VlogParser();
    const seen: VlogRecord[] = [];
    const lines = log.text.split('\n').filter((l) => l !== '');
    lines.forEach((line, i) => {
      const out = parser.pushLine(line);
      for (const r of out.records) {
        if (r.event?.type === 'upcall') expect(r.line + 2).toBe(i + 1);
      }
      seen.push(...out.records);
    });
    seen.push(...parser.flush().records);
    expect(seen).toEqual(parseVlogText(log.text).records);
  });
});

describe('vswitchd log records on tricky inputs', () => {
  it('reads the thread, the level and failed puts (real dpif-netdev revalidator line)', () => {
    const line = '2026-11-27T05:14:40.205Z|00001|dpif(revalidator4)|WARN|system@ovs-system: failed to put[modify] (No such file or directory) ufid:ab494ffb-9240-4236-a61b-fd41be07fa8d recirc_id(0x5),in_port(vif1),eth_type(0x0800),ipv4(frag=no), actions:ct_clear,push_vlan(vid=100,pcp=0),2';
    const { records, errors } = parseVlogText(line);
    expect(errors).toEqual([]);
    expect(records[0]).toMatchObject({ module: 'dpif', thread: 'revalidator4', level: 'WARN', sequence: 1, time: Date.parse('2026-11-27T05:14:40.205Z') });
    expect(records[0].event).toMatchObject({
      type: 'flow_put', dpif: 'system@ovs-system', flags: ['modify'], failure: 'No such file or directory',
      ufid: 'ab494ffb-9240-4236-a61b-fd41be07fa8d', actions: 'ct_clear,push_vlan(vid=100,pcp=0),2',
    });
  });

  it('reads real rate-limit drops and an action upcall', () => {
    const text = [
      '2026-11-27T05:16:36.330Z|01862|dpif_netdev|DBG|Dropped 587 log messages in last 51 seconds (most recently, 51 seconds ago) due to excessive rate',
      '2026-11-27T05:13:44.312Z|00076|dpif_netdev|DBG|ovs-system: action upcall:',
      'skb_priority(0),skb_mark(0),recirc_id(0x4),dp_hash(0),in_port(2),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=1234,dst=80),tcp_flags(syn)',
      'tcp,vlan_tci=0x0000,dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:02,nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=1234,tp_dst=80,tcp_flags=syn tcp_csum:96be',
    ].join('\n');
    const { records } = parseVlogText(text);
    expect(records.map((r) => r.event?.type)).toEqual(['dropped_messages', 'upcall']);
    expect(records[0].event).toEqual({ type: 'dropped_messages', count: 587, seconds: 51, mostRecentSecondsAgo: 51 });
    expect(records[1].event).toMatchObject({ type: 'upcall', upcallType: 'action', dpif: 'ovs-system' });
  });

  it('reads the documented kernel-datapath lines (handler and revalidator threads)', () => {
    const { records, errors } = parseVlogText(readFileSync(join(FIXTURES, 'documented', 'vlog-kernel', 'kernel.log'), 'utf8'));
    expect(errors).toEqual([]);
    expect(records.map((r) => [r.thread, r.event?.type])).toEqual([
      ['handler1', 'upcall'], ['handler1', 'flow_put'], ['handler1', 'flow_put'], ['revalidator6', 'flow_put'],
      ['revalidator6', 'flow_put'], ['revalidator6', 'flow_del'], ['handler1', 'dropped_messages'],
    ]);
    expect(records[2].event).toMatchObject({ flags: ['create'], failure: 'File exists', actions: 'ct(zone=11,nat),recirc(0x1)' });
    expect(records[5].event).toMatchObject({ type: 'flow_del', stats: 'packets:3, bytes:294, used:10.112s', actions: null });
    for (const r of records) if (r.event && 'parsedKey' in r.event) expect(r.event.parsedKey).not.toBeNull();
  });

  it('joins flow match to the flow_add of its own thread when another thread logs in between', () => {
    const add = (t: string, n: string) => `2026-11-27T05:12:32.469Z|${n}|dpif_netdev(${t})|DBG|flow_add: ufid:cd3a57a3-1163-4a62-b947-50c8b07b6ea5 mega_ufid:158d86da-c93d-42ff-a947-f6be10ac61e1 recirc_id(0x2),in_port(2),eth_type(0x0800), actions:3`;
    const text = [
      add('pmd-c00/id:8', '00001'),
      '2026-11-27T05:12:32.469Z|00001|dpif_netdev(pmd-c01/id:9)|DBG|Creating 1. subtable 0x55d295af7270 for in_port 2',
      '2026-11-27T05:12:32.470Z|00002|dpif_netdev(pmd-c00/id:8)|DBG|flow match: recirc_id=0x2,eth,icmp',
    ].join('\n');
    const { records } = parseVlogText(text);
    expect(records.map((r) => r.event?.type ?? null)).toEqual([null, 'flow_add']);
    expect(records[1].event).toMatchObject({ flowMatch: 'recirc_id=0x2,eth,icmp', actions: '3' });
  });

  it('reports lines that belong to no record, and malformed known messages, with their line', () => {
    const { records, errors } = parseVlogText(['orphan continuation', '2026-11-27T05:12:32.469Z|00001|dpif_netdev|DBG|ovs-system: miss upcall:', 'only a key line', '2026-11-27T05:12:33Z|00002|vlog|INFO|opened log file /x'].join('\n'));
    expect(errors.map((e) => e.line)).toEqual([1, 2]);
    expect(errors[0].error).toBeInstanceOf(OvsParseError);
    expect(records.map((r) => r.message)).toEqual(['ovs-system: miss upcall:\nonly a key line', 'opened log file /x']);
  });

  it('reads UDP syslog datagrams: real ovsdb-server ones, and a multi-line upcall', () => {
    const bom = '\uFEFF';
    const { records, errors } = parseVlogDatagrams([
      `<133>1 2026-11-27T05:13:51.513Z vm ovsdb-server 6420 ovsdb_server - ${bom}ovsdb-server (Open vSwitch) 3.1.0`,
      `<135>1 2026-11-27T05:13:51.524Z vm ovsdb-server 6420 jsonrpc - ${bom}unix#1: received request, method="vlog/reopen", params=[], id=0`,
      `<135>1 2026-11-27T05:14:01.000Z hv1 ovs-vswitchd 811 dpif_netdev - ${bom}ovs-system: miss upcall:\nrecirc_id(0),in_port(2),eth_type(0x0800)\nicmp,vlan_tci=0x0000`,
      'not syslog at all',
    ]);
    expect(errors.map((e) => e.line)).toEqual([4]);
    expect(records.map((r) => [r.module, r.level, r.thread, r.sequence])).toEqual([
      ['ovsdb_server', 'INFO', null, null], ['jsonrpc', 'DBG', null, null], ['dpif_netdev', 'DBG', null, null],
    ]);
    expect(records[0].origin).toEqual({ host: 'vm', program: 'ovsdb-server', pid: 6420 });
    expect(records[2].event).toMatchObject({ type: 'upcall', key: 'recirc_id(0),in_port(2),eth_type(0x0800)', packet: 'icmp,vlan_tci=0x0000' });
  });
});

describe('vswitchd log properties', () => {
  const lines = LOGS.flatMap((l) => l.text.split('\n')).slice(0, 400);
  it('never throws and never drops a line on shuffled, cut and garbled real lines', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(Math.max(0, lines.length - 1)), fc.nat(300), fc.string({ maxLength: 20 })), { maxLength: 40 }),
        (picks) => {
          const input = picks
            .map(([i, cut, junk]) => (lines[i] ?? '').slice(0, cut) + junk)
            .filter((l) => !/[\n\r]/.test(l) && l.trim() !== '');
          const parser = new VlogParser();
          const records: VlogRecord[] = [];
          let orphans = 0;
          for (const out of [...input.map((l) => parser.pushLine(l)), parser.flush()]) {
            records.push(...out.records);
            orphans += out.errors.filter((e) => e.error.reason.includes('neither a record')).length;
          }
          const joined = records.filter((r) => r.event && 'flowMatch' in r.event && r.event.flowMatch !== null).length;
          const inRecords = records.reduce((n, r) => n + r.message.split('\n').length, 0);
          expect(inRecords + joined + orphans).toBe(input.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary datagrams', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 200 }), { maxLength: 10 }), (ds) => {
        const { records, errors } = parseVlogDatagrams(ds.map((d) => `<135>1 2026-11-27T05:14:01.000Z h p 1 dpif - ${d}`));
        expect(records.length + errors.length).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 300 },
    );
  });
});
