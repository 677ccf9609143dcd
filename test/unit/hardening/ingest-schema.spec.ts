// Issue 18 finding 4: names every JavaScript object has passed the "not a field of this event
// type" check; the retis adapter built event ids from a non-numeric timestamp or a negative cpu;
// a session filter could name one field twice.
import { compileFilter } from '../../../src/ovs/of-filter';
import { validateEvent } from '../../../src/ingest/ndjson';
import { parseRetis } from '../../../src/ingest/retis-adapter';

const upcall = { type: 'upcall', id: 'u1', time: '2026-11-27T05:21:55.633Z' };
const translation = { type: 'translation', id: 't1', time: '2026-11-27T05:21:55.633Z', steps: [{ table: 0 }] };
const reason = (v: unknown) => {
  const r = validateEvent(v);
  return 'reason' in r ? r.reason : null;
};

describe('ingest schema: prototype names are not fields', () => {
  const names = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', 'propertyIsEnumerable', 'toLocaleString'];
  it.each(names)('%s at top level is refused, naming it', (name) => {
    expect(reason(JSON.parse(JSON.stringify(upcall).replace(/}$/, `,"${name}":1}`)))).toBe(`${name}: is not a field of this event type`);
  });
  it.each(names)('%s in steps[] is refused, naming it', (name) => {
    const line = JSON.stringify(translation).replace('{"table":0}', `{"table":0,"${name}":"x"}`);
    expect(reason(JSON.parse(line))).toBe(`steps[0].${name}: is not a field of this event type`);
  });
  it('still accepts the documented fields', () => {
    expect(reason(upcall)).toBeNull();
    expect(reason(translation)).toBeNull();
  });
});

describe('retis adapter: numbers that become ids', () => {
  const up = (common: string, ovs: string) => `{"common":${common},"ovs":{"event_type":"upcall",${ovs}}}`;
  const rejected = (line: string) => parseRetis(line, { now: 0 }).rejected.map((r) => r.reason);
  it('refuses a missing, non-numeric, fractional or negative timestamp', () => {
    for (const ts of ['"soon"', '-5', '1.5', 'null', '1e400']) expect(rejected(up(`{"timestamp":${ts}}`, '"cpu":1'))[0]).toMatch(/^common\.timestamp: must be a non-negative integer/);
    expect(rejected(up('{}', '"cpu":1'))[0]).toMatch(/^common\.timestamp/);
  });
  it('refuses a negative or non-integer cpu, upcall_cpu, upcall_ts or queue_id', () => {
    expect(rejected(up('{"timestamp":5}', '"cpu":-1'))[0]).toMatch(/^ovs\.cpu: must be a non-negative integer/);
    expect(rejected(up('{"timestamp":5}', '"cpu":0.5'))[0]).toMatch(/^ovs\.cpu/);
    expect(rejected(`{"common":{"timestamp":5},"ovs":{"event_type":"upcall_enqueue","upcall_cpu":1,"upcall_ts":-3,"queue_id":1}}`)[0]).toMatch(/^ovs\.upcall_ts/);
    expect(rejected(`{"common":{"timestamp":5},"ovs":{"event_type":"recv_upcall","queue_id":"7"}}`)[0]).toMatch(/^ovs\.queue_id/);
  });
  it('builds the event id from valid numbers', () => {
    const r = parseRetis(up('{"timestamp":5}', '"cpu":1'), { now: 0 });
    expect(r.events.map((e) => e.event.id)).toEqual(['retis-upcall:1:5']);
  });
});

describe('session filter: a field given twice', () => {
  it.each(['tcp,tp_dst=22,tp_dst=80', 'tcp_dst=22,tp_dst=80', 'nw_src=10.0.0.1,ip_src=10.0.0.2', 'tcp,udp', 'in_port=vif1,in_port=vif2'])('%s is refused', (f) => {
    expect(() => compileFilter(f)).toThrow(/again|second protocol/);
  });
  it('one of each still compiles', () => {
    expect(compileFilter('tcp,nw_src=10.0.0.1,tp_dst=22,in_port=vif1').inPort).toBe('vif1');
  });
});

describe('error messages name no socket or file paths', () => {
  it('replaces sockets, pidfiles and database files by their kind, and leaves URL paths alone', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { scrubPaths } = require('../../../src/common/api-error') as typeof import('../../../src/common/api-error');
    expect(scrubPaths('ovs-vswitchd could not trace x: connect ENOENT /var/run/openvswitch/ovs-vswitchd.4242.ctl')).toBe('ovs-vswitchd could not trace x: connect ENOENT <socket>');
    expect(scrubPaths('unix:/tmp/sb/ovnsb_db.sock: refused; /run/ovn/ovn-northd.pid; /var/lib/x/livetrace.sqlite')).toBe('<socket>: refused; <pidfile>; <database file>');
    expect(scrubPaths('no route GET "/traces/1/x"')).toBe('no route GET "/traces/1/x"');
  });
});
