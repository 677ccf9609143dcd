// With an ovs-vswitchd that has ofproto/detrace (a fake: every daemon here is 3.1, which has
// not), the tracer prefers the ukey's own translation cache over re-tracing, and retries while
// the daemon answers "Cache was not found".
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import { DatapathFlowTable } from '../../../src/collectors/datapath-diff';
import { TracerService } from '../../../src/collectors/tracer.service';
import { parseDumpLine } from '../../../src/ovs/dump-flows';
import { TracesService } from '../../../src/traces/traces.service';
import { startApp } from '../../support/app';
import { FakeDetraceVswitchd, startFakeDetraceVswitchd } from '../../support/fake-detrace-vswitchd';

jest.setTimeout(60_000);

const UFID = 'a41ad08f-23ba-4c34-97b8-6082b6539265';
// The documented sample is the second pass of an ICMP echo through an allow-related ACL.
const LINE =
  `ufid:${UFID}, ct_state(0x21/0x3f),recirc_id(0x1),in_port(vif1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),` +
  'eth_type(0x0800),ipv4(src=10.0.0.1/0.0.0.0,dst=10.0.0.2/0.0.0.0,proto=1,tos=0/0,ttl=64/0,frag=no),icmp(type=8/0,code=0/0), ' +
  'packets:3, bytes:294, used:0.5s, actions:ct(commit,zone=1,mark=0/0x1,nat(src)),ct(zone=4),recirc(0x2)';

describe.each(['flat-3.4', 'by-bridge'] as const)('tracer with a detrace-capable ovs-vswitchd (%s layout)', (layout) => {
  let fake: FakeDetraceVswitchd;
  let app: INestApplication;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livetrace-detrace-'));
    fake = await startFakeDetraceVswitchd({ socketPath: join(dir, 'ovs-vswitchd.ctl'), layout, cacheMissesBeforeReady: 2 });
    app = await startApp({
      LIVETRACE_VSWITCHD_CTL: fake.socketPath,
      LIVETRACE_POLLER: 'false',
      OVN_NB_DB: `unix:${dir}/no-nb.sock`,
      OVN_SB_DB: `unix:${dir}/no-sb.sock`,
      OVS_DB: `unix:${dir}/no-ovs.sock`,
    });
  });

  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });

  it('uses ofproto/detrace, retrying "Cache was not found", and stores the cached rules as the trace', async () => {
    const flow = new DatapathFlowTable().seed(parseDumpLine(LINE), { dbId: 0, firstSeen: new Date().toISOString(), lastSeen: new Date().toISOString() });
    flow.dbId = undefined;
    const out = await app.get(TracerService).traceNow(flow);
    expect(out.traceId).toBeDefined();
    const detraces = fake.requests.filter(([m]) => m === 'ofproto/detrace');
    expect(detraces).toEqual([
      ['ofproto/detrace', [`ufid:${UFID}`]],
      ['ofproto/detrace', [`ufid:${UFID}`]],
      ['ofproto/detrace', [`ufid:${UFID}`]],
    ]);
    expect(fake.requests.some(([m]) => m === 'ofproto/trace')).toBe(false);
    const t = app.get(TracesService).get(out.traceId!);
    expect(t).toMatchObject({ method: 'detrace', ufid: UFID, consistent: null, datapathActions: 'ct(commit,zone=1,mark=0/0x1,nat(src)),ct(zone=4),recirc(0x2)' });
    expect(t.consistentReason).toMatch(/translation cache/);
    expect(t.steps![0]).toMatchObject({ table: 15, priority: 7, cookie: '0x7dc86602', match: 'ct_state=+new-est+trk,metadata=0x1' });
    expect(t.steps!.slice(0, 3).map((s) => [s.table, s.cookie])).toEqual([
      [15, '0x7dc86602'],
      [16, '0x84314d5e'],
      [17, '0xcfa5cf69'],
    ]);
    expect(t.stepCount).toBeGreaterThan(5);
  });
});
