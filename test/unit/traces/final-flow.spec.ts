// The packed final flow (trace.final_flow: what differs from the flow): it must survive
// PostgreSQL's text, which refuses NUL (issue 19), and rows packed before, with a NUL marker,
// still read back as they were stored.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';
import { packFinalFlow, unpackFinalFlow } from '../../../src/traces/trace-read-store';
import { CAPTURED } from '../../support/captured-model';

const pass = parseOfprotoTrace(readFileSync(join(CAPTURED, 'acl-drop/traces/c18ab9e3-05d2-4739-9226-22dae8fd93e9.txt'), 'utf8'));
if (pass.kind !== 'trace') throw new Error('the captured trace is not a pass');
const { flow, finalFlow } = pass.pass;

describe('the packed final flow', () => {
  it('of a captured trace is shorter, holds no NUL, and unpacks to the final flow', () => {
    const packed = packFinalFlow(flow, finalFlow);
    expect(packed.length).toBeLessThan(finalFlow.length);
    expect(packed).not.toContain('\u0000');
    expect(unpackFinalFlow(flow, packed)).toBe(finalFlow);
  });

  it('reads a row packed with the NUL marker as before', () => {
    const old = '\u0000' + packFinalFlow(flow, finalFlow).slice(1);
    expect(unpackFinalFlow(flow, old)).toBe(finalFlow);
  });

  it('keeps a final flow close to nothing in its flow as it is', () => {
    expect(packFinalFlow('in_port=1', 'in_port=2,reg0=0x1')).toBe('in_port=2,reg0=0x1');
    expect(unpackFinalFlow('in_port=1', 'in_port=2,reg0=0x1')).toBe('in_port=2,reg0=0x1');
  });
});
