// The ovn-livetrace terminal client against the same sandbox (registered by live.spec.ts): a drop
// names its ACL, --follow prints a new packet, a path is drawn, bad arguments exit 2, an unknown
// trace exits 1, no colours when the output is not a terminal.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../support/app';
import { waitFor } from '../support/wait';
import { Live, TOKEN } from './live-fixture';

const CLI = ['-r', join(ROOT, 'test/support/swc-register.js'), join(ROOT, 'src/cli/main.ts')];

export function cliCases(ctx: () => Live, dropOf: () => any): void {
  let live: Live;
  let drop: any;
  const env = (url = live.url) => ({ ...process.env, TS_NODE_TRANSPILE_ONLY: '1', LIVETRACE_URL: url, LIVETRACE_API_TOKEN: TOKEN, NO_COLOR: '' });
  const cli = (args: string[], url?: string) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(process.execPath, [...CLI, ...args], { cwd: ROOT, env: env(url), timeout: 60_000 }, (e, out, err) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err }));
    });

  beforeAll(() => {
    live = ctx();
    drop = dropOf();
  });

  it('traces --verdict drop names the ACL that dropped, with no colour codes off a terminal', async () => {
    const r = await cli(['traces', 'lsp1', '--verdict', 'drop']);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain('dropped by ACL: to-lport, priority=1002, match=(outport == "lsp3" && ip4 && udp.dst == 53), drop');
    expect(r.out).not.toContain('output to');
    expect(r.out).not.toContain('\x1b[');
    // The last passes of the page's packet may still be coming: compared until both agree.
    await waitFor('--json lines equal to GET /traces items', async () => {
      const json = (await cli(['traces', 'lsp1', '--json', '-n', '2'])).out.trim().split('\n').map((l) => JSON.parse(l));
      const listed = (await live.json('/traces?logical_port=lsp1&limit=2')).items.reverse();
      return JSON.stringify(json) === JSON.stringify(listed);
    }, 30_000);
  });

  it('traces --follow prints a packet traced after it started', async () => {
    const child: ChildProcess = spawn(process.execPath, [...CLI, 'traces', 'lsp1', '--follow', '--json', '-n', '1'], { cwd: ROOT, env: env() });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    try {
      await waitFor('the listing', () => out.includes('\n'), 30_000);
      const before = JSON.parse(out.trim().split('\n')[0]).id;
      await live.send(2, 42001);
      const lines = await waitFor('a followed packet', () => {
        const l = out.trim().split('\n').map((x) => JSON.parse(x));
        return l.some((t) => t.id > before && /tp_src=42001\b/.test(t.flow)) ? l : undefined;
      }, 30_000);
      expect(lines[0].id).toBe(before);
    } finally {
      child.kill();
    }
  });

  it('path draws the passes and marks the dropping stage; trace prints the ovn-detrace text; audit counts the drops', async () => {
    const path = await live.json(`/paths/${drop.pathId}`);
    const p = await cli(['path', String(drop.pathId)]);
    expect(p.code).toBe(0);
    for (let i = 1; i <= path.passes.length; i++) expect(p.out).toContain(`pass ${i} (trace ${path.passes[i - 1].id})`);
    expect(p.out).toMatch(/ls_out_acl .*<- drop/);
    expect(p.out).toContain('dropped by ACL: to-lport, priority=1002');
    const t = await cli(['trace', String(drop.id)]);
    expect(t.out).toBe(await (await fetch(`${live.url}/traces/${drop.id}?format=text`, { headers: { Authorization: `Bearer ${TOKEN}` } })).text());
    const a = await cli(['audit', 'acl', drop.verdict.northbound.uuid]);
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/dropped [1-9]\d*/);
  });

  it('bad arguments exit 2 with a message; what does not exist exits 1', async () => {
    const missing = await cli(['traces']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/missing required argument 'port'/);
    const verdict = await cli(['traces', 'lsp1', '--verdict', 'lost']);
    expect(verdict.code).toBe(2);
    expect(verdict.err).toMatch(/--verdict.*lost/s);
    const id = await cli(['trace', 'x1']);
    expect([id.code, id.err]).toEqual([2, 'ovn-livetrace: trace id must be a positive integer (got "x1")\n']);
    expect((await cli(['bogus'])).code).toBe(2);
    const gone = await cli(['trace', '999999']);
    expect([gone.code, gone.err]).toEqual([1, 'ovn-livetrace: no trace 999999\n']);
    const port = await cli(['traces', 'no-such-port']);
    expect(port.code).toBe(1);
    expect(port.err).toContain('no logical port named "no-such-port"');
  });

  it('session start traces a port with a filter', async () => {
    const r = await cli(['session', 'start', 'lsp1', '--filter', 'tcp,tp_dst=22', '--json'], live.tracerUrl);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s).toMatchObject({ logicalPort: 'lsp1', filter: 'tcp,tp_dst=22', state: 'active' });
    expect((await cli(['session', 'stop', String(s.id)], live.tracerUrl)).out).toContain(`session ${s.id} stopped`);
  });

  // stop had no --json (its siblings have it): a script could not read what the stop left.
  it('session stop --json prints the session as the API answers the stop', async () => {
    const s = JSON.parse((await cli(['session', 'start', 'lsp1', '--filter', 'udp', '--json'], live.tracerUrl)).out);
    const r = await cli(['session', 'stop', String(s.id), '--json'], live.tracerUrl);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
    const stopped = JSON.parse(r.out);
    expect(stopped).toMatchObject({ id: s.id, logicalPort: 'lsp1', filter: 'udp', state: 'stopped' });
    expect(stopped).toEqual((await (await fetch(`${live.tracerUrl}/trace-sessions/${s.id}`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json()));
  });
}

/** After the drop ACL was deleted (ui-cases.ts): the client's cross-check says where it diverges. */
export function cliCrossCheckCase(ctx: () => Live, dropOf: () => any): void {
  it('cross-check prints the first divergence', async () => {
    const live = ctx();
    const drop = dropOf();
    const r = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(process.execPath, [...CLI, 'cross-check', String(drop.id)], { cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', LIVETRACE_URL: live.url, LIVETRACE_API_TOKEN: TOKEN } }, (e, out) => resolve({ code: e ? 1 : 0, out })),
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain('diverged');
    expect(r.out).toMatch(/first divergence: .*ls_out_acl.*stale/);
  });
}
