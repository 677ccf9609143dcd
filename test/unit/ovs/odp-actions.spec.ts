import * as fc from 'fast-check';
import {
  OdpAction, ctAction, formatActions, nestedActions, outputPorts, parseActions, recircTargets,
} from '../../../src/ovs/odp-actions';
import { OvsParseError } from '../../../src/ovs/parse-error';
import { fixtureLines, mutated } from '../../support/odp-fixtures';

const lines = fixtureLines();

describe('ODP actions', () => {
  it.each(lines.map((l) => [l.source, l.actions]))('%s: format(parse(actions)) is the text as dumped', (_s, text) => {
    const parsed = parseActions(text);
    expect(formatActions(parsed)).toBe(text);
    expect(parseActions(formatActions(parsed))).toEqual(parsed);
  });

  it('reads conntrack, recirculation and outputs of a captured OVN flow', () => {
    const actions = parseActions('ct(commit,zone=11,mark=0/0x1,nat(src)),ct(zone=12,nat),recirc(0x2)');
    expect(actions.map((a) => a.type)).toEqual(['ct', 'ct', 'recirc']);
    expect(ctAction(actions[0])).toEqual({
      commit: true,
      forceCommit: false,
      zone: '11',
      mark: '0/0x1',
      label: undefined,
      helper: undefined,
      nat: { kind: 'src', range: undefined, flags: [] },
    });
    expect(ctAction(actions[1])?.nat).toEqual({ kind: undefined, range: undefined, flags: [] });
    expect(recircTargets(actions)).toEqual([2]);
  });

  it('reads load-balancer NAT ranges and flags', () => {
    const [lb] = parseActions('ct(commit,zone=12,mark=0x2/0x2,nat(dst=10.0.0.2:80))');
    expect(ctAction(lb)?.nat).toEqual({ kind: 'dst', range: '10.0.0.2:80', flags: [] });
    const [snat] = parseActions('ct(commit,zone=5,nat(src=172.16.0.254:1024-65535,random))');
    expect(ctAction(snat)?.nat).toEqual({ kind: 'src', range: '172.16.0.254:1024-65535', flags: ['random'] });
  });

  it('tells output ports (numbers or names) from argument-less actions', () => {
    const actions = parseActions('ct_clear,push_vlan(vid=100,pcp=0),br-ex,ext0,pop_vlan,3,drop');
    expect(actions).toEqual<OdpAction[]>([
      { type: 'word', name: 'ct_clear' },
      { type: 'call', name: 'push_vlan', args: [{ name: 'vid', value: '100' }, { name: 'pcp', value: '0' }] },
      { type: 'output', port: 'br-ex' },
      { type: 'output', port: 'ext0' },
      { type: 'word', name: 'pop_vlan' },
      { type: 'output', port: '3' },
      { type: 'drop' },
    ]);
  });

  it('parses set() into a key field, masks included', () => {
    const [a, b] = parseActions('set(eth(src=00:00:00:00:ff:02,dst=50:54:00:00:00:04)),set(ipv4(ttl=63/0xff))');
    expect(a).toEqual({
      type: 'set',
      name: 'set',
      field: {
        kind: 'attrs',
        name: 'eth',
        attrs: [
          { name: 'src', value: '00:00:00:00:ff:02' },
          { name: 'dst', value: '50:54:00:00:00:04' },
        ],
      },
    });
    expect(b.type === 'set' && b.field.kind === 'attrs' && b.field.attrs[0]).toEqual({ name: 'ttl', value: '63', mask: '0xff' });
  });

  it('parses nested action lists: check_pkt_len, clone, sample', () => {
    const text =
      'check_pkt_len(size=1518,gt(userspace(pid=0,slow_path(action))),le(set(ipv4(ttl=63)),push_vlan(vid=100,pcp=0),eth1)),' +
      'clone(ct_clear,recirc(0x7),tap3),sample(sample=50.0%,actions(tap9))';
    const [cpl, clone, sample] = parseActions(text);
    expect(cpl.type === 'check_pkt_len' && cpl.size).toBe('1518');
    expect(cpl.type === 'check_pkt_len' && cpl.le.map((a) => a.type)).toEqual(['set', 'call', 'output']);
    expect(clone.type === 'clone' && clone.actions.length).toBe(3);
    expect(sample.type === 'call' && nestedActions(sample.args[1])).toEqual([{ type: 'output', port: 'tap9' }]);
    expect(outputPorts([cpl, clone, sample])).toEqual(['eth1', 'tap3', 'tap9']);
    expect(recircTargets([cpl, clone, sample])).toEqual([7]);
    expect(formatActions(parseActions(text))).toBe(text);
  });

  it('keeps unknown actions; verbatim when their arguments are unusual', () => {
    const text = 'future_action(a,b=c),odd(=x),tap2';
    const actions = parseActions(text);
    expect(actions[0]).toEqual({ type: 'call', name: 'future_action', args: [{ name: 'a' }, { name: 'b', value: 'c' }] });
    expect(formatActions(actions)).toBe(text);
  });

  it('names what is wrong and where', () => {
    expect(() => parseActions('ct(commit,zone=1')).toThrow(OvsParseError);
    expect(() => parseActions('recirc(0x1)),2')).toThrow(/bad ODP actions at 11: unexpected '\)'/);
    expect(() => parseActions('1,,2')).toThrow(/expected an action/);
    expect(() => parseActions('check_pkt_len(size=10)')).toThrow(/check_pkt_len/);
  });

  it('throws nothing but OvsParseError on mutated fixture actions, and never hangs', () => {
    fc.assert(
      fc.property(fc.constantFrom(...lines.map((l) => l.actions)).chain(mutated), (text) => {
        try {
          const actions = parseActions(text);
          expect(parseActions(formatActions(actions))).toEqual(actions);
        } catch (e) {
          if (!(e instanceof OvsParseError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});
