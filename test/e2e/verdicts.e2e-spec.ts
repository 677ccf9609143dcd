// Path verdicts on a real sandbox of the pair under test (LIVETRACE_PAIR), for the router topology
// of test/support/verdict-topology.ts: each packet's every path must say what the datapath did —
// output to the port whose interface sent it, a drop naming the port-group ACL that decided it
// (ACL tiers or not), the controller with its reason (ARP resolution of an unresolved next hop,
// ICMP error, an ACL reject naming its ACL), and a load-balanced connection's later packet linked through its NAT to the
// backend's output. Whether the tracer used ofproto/detrace or ofproto/trace by key, the same holds.
import { appendFileSync } from 'node:fs';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';
import { checkPacket } from '../support/verdict-check';
import { buildVerdictTopology, EXTRA_VERDICT_PACKETS, VERDICT_PACKETS, VerdictTopology } from '../support/verdict-topology';

const PACKETS = { ...VERDICT_PACKETS, ...EXTRA_VERDICT_PACKETS };

jest.setTimeout(300_000);

describe(`path verdicts against the datapath (${process.env.LIVETRACE_PAIR ?? 'debian12'})`, () => {
  let sb: Sandbox;
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  let topo: VerdictTopology;

  beforeAll(async () => {
    sb = await Sandbox.start({ prefix: 'livetrace-verdicts-' });
    topo = await buildVerdictTopology(sb);
    await sb.keepFlows();
    // LIVETRACE_TRACE_METHOD (trace | auto | detrace) reaches the service: the verdicts must not depend on it.
    const method = process.env.LIVETRACE_TRACE_METHOD;
    app = await startApp({ ...sb.env, LIVETRACE_POLL_INTERVAL_MS: '200', ...(method ? { LIVETRACE_TRACE_METHOD: method } : {}) });
    http = request(app.getHttpServer());
    await waitFor('service healthy', async () => (await http.get('/health')).status === 200, 60_000);
    await http.post('/trace-sessions').send({ logicalPort: 'lsp1' }).expect(201);
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it.each(Object.keys(PACKETS))('%s', async (name) => {
    const r = await checkPacket(sb, http, topo, name);
    // LIVETRACE_VERDICTS_REPORT=FILE: one JSON line per packet (the version-matrix report reads them).
    if (process.env.LIVETRACE_VERDICTS_REPORT) {
      const line = { pair: process.env.LIVETRACE_PAIR ?? 'debian12', ...r, tx: Object.fromEntries([...r.tx].filter(([, n]) => n)) };
      appendFileSync(process.env.LIVETRACE_VERDICTS_REPORT, JSON.stringify(line) + '\n');
    }
    expect(r.paths.length).toBeGreaterThanOrEqual(1);
    expect({ packet: name, mismatches: r.mismatches }).toEqual({ packet: name, mismatches: [] });
    const e = PACKETS[name].expect;
    if (e.kind === 'drop' && !e.acl && !e.stage) {
      // Dropped by none of the logical flows (the loopback check of ovn-controller's physical tables).
      for (const p of r.paths) expect(p.verdict).toMatchObject({ logicalFlow: null, northbound: null, dropReason: expect.stringMatching(/loopback/) });
    }
    if (e.kind === 'drop' && e.acl) {
      for (const p of r.paths) {
        expect(p.verdict.northbound).toMatchObject({ table: 'ACL', uuid: topo[e.acl] });
        // With ACL tiers the decision (acl_eval) and the execution (acl_action) are two flows.
        if (p.verdict.executedBy) expect(p.verdict).toMatchObject({ stage: expect.stringMatching(/_acl_eval$/), executedBy: { stage: expect.stringMatching(/_acl_action$/) } });
        else expect(p.verdict.stage).toMatch(/^ls_out_acl$/);
      }
    }
  });
});
