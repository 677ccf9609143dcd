#!/usr/bin/env node
// ovn-livetrace: the service's answers in a shell. Exit status 0, 1 (not found, or the service
// could not answer), 2 (usage: a bad argument, here or as the API's 400).
import { Command, CommanderError, Option } from 'commander';
import { Client, ClientError } from './client';
import { excusedText, outputPorts } from '../../web/describe';
import { drawAudit, drawPath, jsonLine, oldestFirst, paint, termSafe, termSafeDeep, traceLine } from './render';

const VERDICTS = ['output', 'drop', 'controller', 'tunnel', 'recirculate'];
/** Short names for the northbound tables an audit is asked about. */
const TABLES: Record<string, string> = { acl: 'ACL', nat: 'NAT', lb: 'Load_Balancer', 'load-balancer': 'Load_Balancer', lsp: 'Logical_Switch_Port', lrp: 'Logical_Router_Port', policy: 'Logical_Router_Policy', route: 'Logical_Router_Static_Route', qos: 'QoS' };

class UsageError extends Error {}

const positiveInt = (what: string) => (v: string) => {
  if (!/^[1-9]\d{0,15}$/.test(v)) throw new UsageError(`${what} must be a positive integer (got ${JSON.stringify(v)})`);
  return Number(v);
};

export function program(out: (s: string) => void = (s) => process.stdout.write(s + '\n')): Command {
  const color = paint(!!process.stdout.isTTY && !process.env.NO_COLOR);
  const p = new Command('ovn-livetrace')
    .description('What happened to a logical port\'s packets, and which logical flow or ACL made it so (the ovn-livetrace service, over its API).')
    .addOption(new Option('--url <url>', 'the service').env('LIVETRACE_URL').default('http://127.0.0.1:8470'))
    .showHelpAfterError()
    .exitOverride();
  const client = () => {
    const url = String(p.opts().url).replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]+$/.test(url)) throw new UsageError(`--url must be like http://127.0.0.1:8470 (got ${JSON.stringify(url)})`);
    return new Client(url, process.env.LIVETRACE_API_TOKEN || undefined);
  };
  // What the API returns is printed made safe for a terminal (render.ts termSafe): its names and texts come from OVN, OVS and ingested events.
  const json = (v: unknown) => out(jsonLine(v));

  p.command('traces')
    .description("a logical port's packets, oldest first; --follow prints new ones as they are traced")
    .argument('<port>', 'logical port name or UUID')
    .option('-f, --follow', 'keep printing new packets')
    .addOption(new Option('--verdict <verdict>', 'only these').choices(VERDICTS))
    .option('-n, --limit <n>', 'how many (1-500)', positiveInt('--limit'), 20)
    .option('--json', 'one JSON trace per line')
    .action(async (port: string, o: { follow?: boolean; verdict?: string; limit: number; json?: boolean }) => {
      const c = client();
      const q = new URLSearchParams({ logical_port: port });
      if (o.verdict) q.set('verdict', o.verdict);
      const page = await c.get(`/traces?${q}&limit=${o.limit}`);
      const show = (t: any) => (o.json ? json(t) : out(traceLine(t, color)));
      for (const t of oldestFirst(page.items)) show(t);
      // Skipped traces said on stderr: stdout stays one trace a line (--json: JSON lines).
      const gap = (m: string) => process.stderr.write(`ovn-livetrace: ${termSafe(m)}\n`);
      if (o.follow) await c.follow(`?${q}`, page.items[0]?.id ?? 0, show, { seen: page.items.map((t: { id: number }) => t.id), onGap: gap });
    });

  p.command('trace')
    .description('one pass as ovn-detrace text')
    .argument('<id>', 'trace id', positiveInt('trace id'))
    .option('--json', 'the trace as JSON')
    .action(async (id: number, o: { json?: boolean }) => {
      if (o.json) json(await client().get(`/traces/${id}`));
      else process.stdout.write(termSafe(await client().text(`/traces/${id}?format=text`), true));
    });

  p.command('path')
    .description("a packet's passes and its verdict, drawn")
    .argument('<id>', 'path id', positiveInt('path id'))
    .option('--json', 'the path as JSON')
    .action(async (id: number, o: { json?: boolean }) => {
      const path = await client().get(`/paths/${id}?include=steps`);
      if (o.json) json(path);
      else out(drawPath(path, color));
    });

  p.command('audit')
    .description('what a northbound row (acl, nat, lb, lsp…) or a logical flow (lflow) allowed or dropped')
    .argument('<table>', `${Object.keys(TABLES).join(', ')}, lflow, or a northbound table name`)
    .argument('<uuid>', 'the row')
    .option('--json', 'the datapath flows as JSON')
    .action(async (table: string, uuid: string, o: { json?: boolean }) => {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid)) throw new UsageError(`uuid must be a full UUID (got ${JSON.stringify(uuid)})`);
      const lflow = ['lflow', 'logical-flow', 'logical_flow'].includes(table.toLowerCase());
      const name = TABLES[table.toLowerCase()] ?? table;
      const page = await client().get(lflow ? `/logical-flows/${uuid}/datapath-flows?limit=500` : `/northbound/${encodeURIComponent(name)}/${uuid}/datapath-flows?limit=500`);
      if (o.json) json(page);
      else out(drawAudit(`${lflow ? 'logical flow' : name} ${uuid}`, page.items, color));
    });

  const session = p.command('session').description('trace sessions: trace a port live');
  session
    .command('start')
    .description("trace a logical port's packets live on every chassis, traffic already flowing included")
    .argument('<port>', 'logical port name or UUID')
    .option('--filter <filter>', "ofproto-style filter, e.g. 'tcp,tp_dst=22'")
    .option('--max-traces <n>', 'stop after n traces', positiveInt('--max-traces'))
    .option('--duration <seconds>', 'stop after this long', positiveInt('--duration'))
    .option('--cross-check', 'cross-check each completed path with ovn-trace')
    .option('--json', 'the session as JSON')
    .action(async (port: string, o: { filter?: string; maxTraces?: number; duration?: number; crossCheck?: boolean; json?: boolean }) => {
      const got = await client().post('/trace-sessions', { logicalPort: port, filter: o.filter, maxTraces: o.maxTraces, durationSeconds: o.duration, crossCheck: o.crossCheck, includeExisting: true });
      const s = termSafeDeep(got);
      if (o.json) json(got);
      else out(`session ${s.id} tracing ${s.logicalPort}${s.filter ? ` (${s.filter})` : ''} on ${s.chassis}: follow it with ovn-livetrace traces ${s.logicalPort} --follow`);
    });
  session
    .command('stop')
    .description('stop a trace session (its traces stay)')
    .argument('<id>', 'session id', positiveInt('session id'))
    .option('--json', 'the session as JSON, as the stop left it')
    .action(async (id: number, o: { json?: boolean }) => {
      const got = await client().delete(`/trace-sessions/${id}`);
      if (o.json) json(got);
      else out(`session ${id} stopped`);
    });

  p.command('cross-check')
    .description("the trace's live path against ovn-trace, stage by stage")
    .argument('<id>', 'trace id', positiveInt('trace id'))
    .option('--json', 'the cross-check as JSON')
    .action(async (id: number, o: { json?: boolean }) => {
      const got = await client().post(`/traces/${id}/cross-check`);
      if (o.json) return json(got);
      const x = termSafeDeep(got);
      const live = `${x.verdicts.live.kinds.join(', ')} ${outputPorts(x.verdicts.live, (s) => s)}`.trim();
      const sim = x.verdicts.simulated.dropped ? 'drop' : `output ${x.verdicts.simulated.outputs.join(', ')}`;
      out(`cross-check ${x.id} of trace ${id}: ${x.result === 'match' ? color.green('match') : color.red('diverged')} (live: ${live}; ovn-trace: ${sim})`);
      // Every live stage accounted for: the stages ovn-trace does not print (next; only) are most of a
      // pipeline, and a bare "3/26 matched" read as 23 differences.
      for (const pl of x.pipelines) {
        const where = `${pl.pipeline} ${pl.datapath ?? ''}${pl.outport ? ` to ${pl.outport}` : ''}`;
        out(`  ${where}: ${pl.matched}/${pl.liveStages} live stages matched (${pl.simulatedStages} in ovn-trace)${excusedText(pl.excused)}`);
      }
      for (const t of x.ties ?? []) out(color.yellow(`  tie, not a difference: ${t.explanation}`));
      if (x.divergence) out(color.red(`  first divergence: ${x.divergence.explanation}`));
      out(color.dim(`  ${x.command.shell}`));
    });
  return p;
}

export async function run(argv: string[]): Promise<number> {
  const err = (s: string) => process.stderr.write(`ovn-livetrace: ${termSafe(s)}\n`);
  try {
    await program().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    if (e instanceof UsageError) return err(e.message), 2;
    if (e instanceof ClientError) return err(e.message), e.status === 400 ? 2 : 1;
    err(e instanceof Error ? e.message : String(e));
    return 1;
  }
}

if (require.main === module) {
  // The reader went away (`| head`, a closed pager): stop, as any command of a pipeline does. The
  // write's EPIPE had no listener and printed its stack, status 1; --follow would never end.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(0);
  });
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
