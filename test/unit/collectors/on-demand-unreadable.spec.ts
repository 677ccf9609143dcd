// POST /traces when ofproto/trace's reply does not parse: a real reply (OVS 3.5's own-key trace of a
// routed echo reply through conntrack) cut inside its recirculated pass, as a reply cut short would
// arrive. A real daemon does not answer that on demand, so the cut is made here. The route answered
// 500 (the parser's error unhandled); it is the daemon's answer that is bad: 502, naming what could
// not be read and how the reply began, and nothing stored.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpException } from '@nestjs/common';
import { OnDemandTraceController } from '../../../src/collectors/on-demand.controller';
import { parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';
import { CAPTURED_ROOT } from '../../support/captured-model';

const REPLY = readFileSync(join(CAPTURED_ROOT, 'ovs-3.5.0_ovn-25.03.0/routed/traces/d0eacf91-6b30-4da8-ae2d-155c564f1664.txt'), 'utf8');

function controller(reply: string) {
  const stored: unknown[] = [];
  const never = (what: string) => () => {
    throw new Error(`${what} called for an unreadable reply`);
  };
  const vswitchd = { call: async () => reply, datapath: async () => null };
  const replicas = { chassisName: () => 'hv1', model: {} };
  const recorder = { recordSimulated: async (passes: unknown) => (stored.push(passes), never('recordSimulated')()) };
  const c = new OnDemandTraceController(vswitchd as never, replicas as never, { getStored: never('getStored') } as never, recorder as never, { ofPath: never('ofPath') } as never);
  return { c, stored };
}

async function refusal(reply: string): Promise<{ status: number; body: { message: string; field?: string } }> {
  const { c, stored } = controller(reply);
  const err = await c.create({ bridge: 'br-int', flow: 'in_port=4,icmp' }, {}).then(
    () => null,
    (e: unknown) => e,
  );
  expect(stored).toEqual([]);
  expect(err).toBeInstanceOf(HttpException);
  const h = err as HttpException;
  return { status: h.getStatus(), body: h.getResponse() as { message: string; field?: string } };
}

describe('POST /traces: a reply ofproto/trace gave that does not parse', () => {
  it('the captured reply whole is read (the cut below is what breaks it)', () => {
    const whole = parseOfprotoTrace(REPLY);
    expect(whole.kind === 'trace' && whole.continuations.length).toBeGreaterThan(0);
  });

  it('is a 502 naming what could not be read and the reply\'s first line, bounded; nothing stored', async () => {
    const lines = REPLY.split('\n');
    // Cut inside the pass resumed after ct(): its Final flow / Megaflow / Datapath actions never come.
    const resumed = lines.findIndex((l) => l.startsWith('recirc(0x') && l.includes('resume conntrack'));
    const cut = lines.slice(0, resumed + 10).join('\n') + '\n';
    const r = await refusal(cut);
    expect(r.status).toBe(502);
    expect(r.body.message).toMatch(/^ovs-vswitchd's ofproto\/trace reply could not be read: .*without "Final flow:".*\(line \d+\)/);
    expect(r.body.message).toContain(`it began: ${JSON.stringify(lines[0].slice(0, 120))}`);
    expect(r.body.message.length).toBeLessThan(600);
  });

  it('a reply that is not a trace at all is a 502 too, its start quoted', async () => {
    const r = await refusal('x'.repeat(10_000));
    expect(r.status).toBe(502);
    expect(r.body.message).toMatch(/expected "Flow: "/);
    expect(r.body.message.length).toBeLessThan(600);
  });
});
