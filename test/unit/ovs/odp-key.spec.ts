import * as fc from 'fast-check';
import {
  ctState, ctStateFlags, formatKey, geneveOptions, inPort, keyField, keyValue, parseKey, recircId, traceKey,
} from '../../../src/ovs/odp-key';
import { OvsParseError } from '../../../src/ovs/parse-error';
import { fixtureLines, mutated } from '../../support/odp-fixtures';

const lines = fixtureLines();
const captured = lines.filter((l) => l.source.startsWith('captured/'));

describe('ODP flow keys', () => {
  it('has captured fixtures to test on', () => {
    expect(captured.length).toBeGreaterThan(50);
  });

  it.each(lines.map((l) => [l.source, l.key]))('%s: format(parse(key)) is the key as dumped', (_src, key) => {
    const parsed = parseKey(key);
    expect(formatKey(parsed, { masks: true })).toBe(key);
    expect(parseKey(formatKey(parsed, { masks: true }))).toEqual(parsed);
  });

  it('keeps every field, in dump order, with values and masks apart', () => {
    const key = parseKey(
      'skb_priority(0/0),ct_state(0x21/0x3f),ct_zone(0xc/0),recirc_id(0x2),in_port(vif1),' +
        'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02/01:00:00:00:00:00),eth_type(0x0800),' +
        'ipv4(src=10.0.0.1/0.0.0.0,dst=10.0.0.2,proto=1/0,frag=no)',
    );
    expect(key.fields.map((f) => f.name)).toEqual([
      'skb_priority', 'ct_state', 'ct_zone', 'recirc_id', 'in_port', 'eth', 'eth_type', 'ipv4',
    ]);
    expect(keyField(key, 'ct_state')).toEqual({ kind: 'scalar', name: 'ct_state', value: '0x21', mask: '0x3f' });
    expect(keyField(key, 'eth')).toEqual({
      kind: 'attrs',
      name: 'eth',
      attrs: [
        { name: 'src', value: '50:54:00:00:00:01' },
        { name: 'dst', value: '50:54:00:00:00:02', mask: '01:00:00:00:00:00' },
      ],
    });
    expect(recircId(key)).toBe(2);
    expect(inPort(key)).toBe('vif1');
    expect(keyValue(key, 'ipv4', 'src')).toBe('10.0.0.1');
  });

  it('refuses a recirc_id wider than the datapath\'s 32 bits, naming it', () => {
    expect(recircId(parseKey('recirc_id(0xffffffff),in_port(vif1)'))).toBe(0xffffffff);
    expect(() => recircId(parseKey('recirc_id(0x100000000),in_port(vif1)'))).toThrow(/recirc_id.*wider than 32 bits/);
  });

  it('reads ct_state as hex (-m dumps) and as flags (plain dumps)', () => {
    expect(ctState(parseKey('ct_state(0x21/0x3f)'))).toEqual({ bits: 0x21, mask: 0x3f });
    expect(ctStateFlags(0x21)).toEqual(['new', 'trk']);
    // -new-est-rel-rpl-inv+trk: only trk set, the five named flags matched too.
    expect(ctState(parseKey('ct_state(+new-est-rel-rpl-inv+trk)'))).toEqual({ bits: 0x21, mask: 0x3f });
    expect(ctState(parseKey('ct_state(new|trk)'))).toEqual({ bits: 0x21, mask: 0xff });
    expect(() => ctState(parseKey('ct_state(+new+bogus)'))).toThrow(OvsParseError);
  });

  it('drops masks and renames ct_tuple6 ports for ofproto/trace', () => {
    const key = parseKey(
      'ct_state(0x21/0x3f),ct_tuple6(src=fd00::1/::,dst=fd00::2/::,proto=58/0,src_port=128/0,dst_port=0/0),' +
        'recirc_id(0x1),in_port(vif1),ipv6(src=fd00::1/ffc0::,dst=fd00::2,label=0/0)',
    );
    expect(formatKey(key, { masks: false })).toBe(
      'ct_state(0x21),ct_tuple6(src=fd00::1,dst=fd00::2,proto=58,src_port=128,dst_port=0),' +
        'recirc_id(0x1),in_port(vif1),ipv6(src=fd00::1,dst=fd00::2,label=0)',
    );
    expect(traceKey(key)).toContain('ct_tuple6(src=fd00::1,dst=fd00::2,proto=58,tp_src=128,tp_dst=0)');
  });

  it('parses VLAN encap as a nested key and finds fields inside it', () => {
    const key = parseKey(
      'in_port(ext0),eth(src=50:54:00:00:01:10,dst=00:00:00:00:ff:03),eth_type(0x8100),vlan(vid=100,pcp=0),' +
        'encap(eth_type(0x0800),ipv4(src=172.16.0.10,dst=172.16.0.110,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0))',
    );
    const encap = keyField(key, 'encap');
    expect(encap?.kind).toBe('encap');
    expect(keyValue(key, 'vlan', 'vid')).toBe('100');
    expect(keyValue(key, 'ipv4', 'dst')).toBe('172.16.0.110');
  });

  it('parses tunnel keys with OVN geneve options (class 0x102, type 0x80)', () => {
    const key = parseKey(
      'tunnel(tun_id=0x1,src=192.168.100.12,dst=192.168.100.11,ttl=64/0,' +
        'geneve({class=0x102,type=0x80,len=4,0x20003/0x7fffffff}),flags(-df+csum+key)),in_port(genev_sys_6081)',
    );
    expect(keyValue(key, 'tunnel', 'tun_id')).toBe('0x1');
    expect(keyValue(key, 'tunnel', 'flags')).toBe('-df+csum+key');
    expect(geneveOptions(key)).toEqual([
      {
        attrs: [
          { name: 'class', value: '0x102' },
          { name: 'type', value: '0x80' },
          { name: 'len', value: '4' },
        ],
        data: '0x20003',
        dataMask: '0x7fffffff',
      },
    ]);
  });

  it('keeps unknown fields verbatim', () => {
    const text = 'recirc_id(0),mystery(a=b(c),{d}),in_port(2)';
    const key = parseKey(text);
    expect(key.fields[1]).toEqual({ kind: 'unknown', name: 'mystery', text: 'mystery(a=b(c),{d})' });
    expect(formatKey(key)).toBe(text);
  });

  it('names the position of what is wrong', () => {
    const bad = 'recirc_id(0),in_port(2),eth(src=50:54:00:00:00:01,dst';
    try {
      parseKey(bad);
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(OvsParseError);
      const err = e as OvsParseError;
      expect(err.what).toBe('ODP key');
      expect(err.position).toBe(bad.length);
      expect(err.message).toMatch(/^bad ODP key at \d+: expected '\)'/);
    }
    expect(() => parseKey('ipv4(src)')).toThrow(/expected '=' in attribute/);
    expect(() => parseKey('recirc_id(0)in_port(1)')).toThrow(/expected ','/);
  });

  it('throws nothing but OvsParseError on mutated fixture keys, and never hangs', () => {
    fc.assert(
      fc.property(fc.constantFrom(...lines.map((l) => l.key)).chain(mutated), (text) => {
        try {
          const key = parseKey(text);
          // Whatever parses must format back to something that parses the same.
          expect(parseKey(formatKey(key))).toEqual(key);
        } catch (e) {
          if (!(e instanceof OvsParseError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('ODP key fast check', () => {
  const { checkKeyFields } = require('../../../src/ovs/odp-key') as typeof import('../../../src/ovs/odp-key');
  const accepts = (f: () => unknown) => {
    try {
      f();
      return true;
    } catch (e) {
      if (!(e instanceof OvsParseError)) throw e;
      return false;
    }
  };

  it('accepts exactly what the building parser accepts, on mutated fixture keys', () => {
    fc.assert(
      fc.property(fc.constantFrom(...lines.map((l) => l.key)).chain(mutated), (text) => {
        expect(accepts(() => checkKeyFields(text, 0, text.length))).toBe(accepts(() => parseKey(text)));
      }),
      { numRuns: 20000 },
    );
  });

  it('refuses, like the building parser, a brace group closed by a parenthesis (found by the property above)', () => {
    const text =
      'ecirc_id(0),in_port(4),packet_type(ns=0,id=0),eth(src={{50:54:00:00:00:01/01:00:00:00:00:00,dst=50:54:00:00:00:02),eth_type(0x0800),}ipv4,dst=10.0.0.100,proto=6,frag=no),tcp(dst=80)';
    expect(() => parseKey(text)).toThrow(OvsParseError);
    expect(() => checkKeyFields(text, 0, text.length)).toThrow(/expected '}'/);
  });

  it('counts the top-level fields', () => {
    const text = 'recirc_id(0),eth_type(0x8100),encap(eth_type(0x0800),ipv4(frag=no))';
    expect(checkKeyFields(text, 0, text.length)).toBe(3);
  });
});
