// Sends one packet of VERDICT_PACKETS through a sandbox built by buildVerdictTopology, waits for the
// service (tracing lsp1) to store every pass of it, and compares each path's verdict with what the
// datapath did: for delivered packets the interface whose tx counter grew, for drops the installed
// `drop` and no tx, for controller packets the installed userspace(controller(…)). Used by
// test/e2e/verdicts.e2e-spec.ts and by the version-matrix report.
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { startApp } from './app';
import { Sandbox } from './sandbox';
import { waitFor } from './wait';
import { buildVerdictTopology, EXTRA_VERDICT_PACKETS, txPackets, VERDICT_PACKETS, VerdictTopology } from './verdict-topology';

export interface TracingLsp1 {
  sb: Sandbox;
  topo: VerdictTopology;
  app: INestApplication;
  http: ReturnType<typeof request>;
}

/**
 * A fresh sandbox with the verdict topology and the service (in process) tracing lsp1 through a
 * session, healthy: what every test that checks packets on that topology starts from; `env` adds to
 * the service's (e.g. PostgreSQL as the store). What it started is stopped again if a step fails,
 * since the caller's afterAll never sees it.
 */
export async function startTracingLsp1(prefix: string, session: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<TracingLsp1> {
  const sb = await Sandbox.start({ prefix });
  let app: INestApplication | undefined;
  try {
    const topo = await buildVerdictTopology(sb);
    await sb.keepFlows();
    app = await startApp({ ...sb.env, LIVETRACE_POLL_INTERVAL_MS: '200', ...env });
    const http = request(app.getHttpServer());
    await waitFor('service healthy', async () => (await http.get('/health')).status === 200, 60_000);
    await http.post('/trace-sessions').send({ logicalPort: 'lsp1', ...session }).expect(201);
    return { sb, topo, app, http };
  } catch (e) {
    await app?.close();
    await sb.stop();
    throw e;
  }
}

const ALL_PACKETS = { ...VERDICT_PACKETS, ...EXTRA_VERDICT_PACKETS };

export interface PathVerdictJson {
  kinds: string[];
  logicalPorts: string[];
  logicalFlow: string | null;
  stage?: string | null;
  northbound: { table?: string; uuid?: string } | null;
  executedBy?: { logicalFlow: string | null; stage: string | null };
  dropReason?: string;
  controller?: { reason: string; paused: boolean; opcode: number | null; northbound?: { table?: string; uuid?: string } };
  incomplete: boolean;
  incompleteReason?: string;
}

export interface PacketResult {
  packet: string;
  /** Datapath flows the packet installed (dpctl/dump-flows -m, in_port of the sender). */
  flows: Array<{ ufid: string; actions: string }>;
  /** Traces of those flows: method and consistency. */
  traces: Array<{ ufid: string; method: string; consistent: boolean | null; pathId: number }>;
  paths: Array<{ id: number; verdict: PathVerdictJson }>;
  /** tx packets grown per interface while the packet went through. */
  tx: Map<string, number>;
  /** Why a path's verdict disagrees with the datapath; empty when every one agrees. */
  mismatches: string[];
}

type Http = ReturnType<typeof request>;

async function dump(sb: Sandbox, inPort: string): Promise<Array<{ ufid: string; actions: string }>> {
  const text = await sb.appctl('dpctl/dump-flows', '-m');
  return text
    .split('\n')
    .filter((l) => l.startsWith('ufid:') && l.includes(`in_port(${inPort})`))
    .map((l) => ({ ufid: l.slice(5, 41), actions: /, actions:(.*?)(, dp-extra-info:.*)?$/.exec(l)?.[1] ?? '' }));
}

/**
 * Flushes datapath flows and conntrack (the test may change daemon state; the service never does),
 * waits for a poll cycle that saw no flows, sends the packet and checks its paths.
 */
export async function checkPacket(sb: Sandbox, http: Http, topo: VerdictTopology, name: string, ms = 90_000): Promise<PacketResult> {
  const p = ALL_PACKETS[name];
  if (!p) throw new Error(`no verdict packet named ${name}`);
  await p.setup?.(sb);
  try {
    return await sendAndCheck(sb, http, topo, name, ms);
  } finally {
    await p.teardown?.(sb);
  }
}

async function sendAndCheck(sb: Sandbox, http: Http, topo: VerdictTopology, name: string, ms: number): Promise<PacketResult> {
  const p = ALL_PACKETS[name];
  // revalidator/purge drops the ukeys too: after dpctl/del-flows alone a packet with the key of an
  // earlier one (gateway-mtu after routed-snat) installs no flow (facts §7).
  await sb.appctl('revalidator/purge');
  await sb.appctl('dpctl/del-flows');
  await sb.appctl('dpctl/flush-conntrack');
  const flushed = new Date().toISOString();
  await waitFor('a poll cycle after the flush', async () => {
    const cycle = (await http.get('/health')).body.info?.vswitchd?.poller?.lastCycle;
    return cycle && cycle.at > flushed && cycle.flows === 0;
  }, ms);
  const before = txPackets(await sb.appctl('dpctl/show', '-s'));
  const flow = `in_port(${topo.dpPorts.get(p.iface)}),${p.flow}`;
  for (let i = 0; i < p.count; i++) await sb.inject(p.iface, flow, 1);
  const flows = await dump(sb, p.iface);
  if (!flows.length) throw new Error(`${name}: the packet installed no datapath flow on ${p.iface}`);
  // Every flow traced, then every path complete (or its verdict final).
  const traces = await waitFor(`${name}: a trace of each of its ${flows.length} datapath flows`, async () => {
    const out: PacketResult['traces'] = [];
    for (const f of flows) {
      const r = await http.get(`/datapath-flows/${f.ufid}`);
      const t = r.status === 200 ? r.body.lifetimes?.[0]?.traces?.[0] : undefined;
      if (!t?.pathId) return undefined;
      out.push({ ufid: f.ufid, method: t.method, consistent: t.consistent, pathId: t.pathId });
    }
    return out;
  }, ms);
  const ids = [...new Set(traces.map((t) => t.pathId))];
  let paths: PacketResult['paths'] = [];
  await waitFor(`${name}: complete paths`, async () => {
    paths = [];
    for (const id of ids) {
      const r = await http.get(`/paths/${id}`);
      if (r.status === 200) paths.push({ id, verdict: r.body.verdict });
    }
    return paths.length === ids.length && paths.every((x) => !x.verdict.incomplete && !(x.verdict.kinds.length === 1 && x.verdict.kinds[0] === 'recirculate'));
  }, ms).catch(() => undefined); // an incomplete path is reported below as a mismatch, with its reason
  // ovn-controller sends what a controller action asked for (ARP, ICMP) asynchronously.
  const after = await waitFor(`${name}: tx counters`, async () => {
    const t = txPackets(await sb.appctl('dpctl/show', '-s'));
    return p.expect.kind !== 'controller' || [...t].some(([k, v]) => v > (before.get(k) ?? 0)) ? t : undefined;
  }, 10_000).catch(async () => txPackets(await sb.appctl('dpctl/show', '-s')));
  const tx = new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]));
  return { packet: name, flows, traces, paths, tx, mismatches: mismatches(name, topo, flows, traces, paths, tx) };
}

function mismatches(
  name: string,
  topo: VerdictTopology,
  flows: PacketResult['flows'],
  traces: PacketResult['traces'],
  paths: PacketResult['paths'],
  tx: Map<string, number>,
): string[] {
  const e = ALL_PACKETS[name].expect;
  const out: string[] = [];
  for (const t of traces) if (t.consistent === false) out.push(`trace of ${t.ufid} (${t.method}) is not consistent with its installed flow`);
  const installed = flows.map((f) => f.actions).join(' | ');
  for (const { id, verdict: v } of paths) {
    const where = `path ${id} (${JSON.stringify(v)})`;
    if (v.incomplete) out.push(`${where}: incomplete: ${v.incompleteReason ?? 'no reason given'}`);
    if (!v.kinds.includes(e.kind)) out.push(`${where}: kinds ${v.kinds.join(',')}, expected ${e.kind}`);
    if (e.kind === 'output') {
      for (const lp of e.outputs ?? []) if (!v.logicalPorts.includes(lp)) out.push(`${where}: does not output to ${lp}`);
    }
    if (e.kind === 'drop') {
      if (e.acl && v.northbound?.uuid !== topo[e.acl]) out.push(`${where}: names ${JSON.stringify(v.northbound)}, not ACL ${topo[e.acl]}`);
      if (e.stage && !(v.logicalFlow && e.stage.test(v.stage ?? '') && !v.executedBy)) out.push(`${where}: dropped by logical flow ${v.logicalFlow} of stage ${v.stage}${v.executedBy ? ` (executed by ${v.executedBy.stage})` : ''}, expected the flow of ${e.stage} that drops`);
    }
    if (e.kind === 'controller' && e.reason && !e.reason.test(v.controller?.reason ?? '')) out.push(`${where}: controller reason ${v.controller?.reason}, expected ${e.reason}`);
    if (e.kind === 'controller' && e.acl && v.controller?.northbound?.uuid !== topo[e.acl]) out.push(`${where}: controller names ${JSON.stringify(v.controller?.northbound)}, not ACL ${topo[e.acl]}`);
  }
  // What the datapath did.
  if (e.kind === 'output') {
    for (const i of e.txIfaces ?? []) if (!(tx.get(i)! > 0)) out.push(`datapath: ${i} sent nothing (tx ${JSON.stringify([...tx])})`);
  } else if (e.kind === 'drop') {
    for (const i of e.txIfaces ?? []) if (tx.get(i)) out.push(`datapath: ${i} sent ${tx.get(i)} packets of a dropped packet`);
    // A logged or sampled drop sends ovn-controller or IPFIX a copy and nothing else; a drop after
    // the pipeline committed the connection (the loopback check, at its end) only commits.
    const drops = (a: string) =>
      a === 'drop' || /^userspace\(pid=\d+,(controller|flow_sample)\([^()]*\)\)$/.test(a) || /^ct\(commit(?:[^()]|\([^()]*\))*\)$/.test(a);
    if (!flows.some((f) => drops(f.actions))) out.push(`datapath: no installed flow drops (${installed})`);
  } else {
    if (!/userspace\(pid=\d+,controller\(/.test(installed)) out.push(`datapath: no installed flow goes to the controller (${installed})`);
    for (const i of e.txIfaces ?? []) if (tx.get(i)) out.push(`datapath: ${i} sent ${tx.get(i)} packets of a packet sent to the controller`);
  }
  return out;
}
