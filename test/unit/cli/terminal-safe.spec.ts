// What the terminal client prints of the API's names and texts (port, chassis and datapath names,
// ACL summaries, matches, datapath actions, ovn-detrace text, error messages) carries no character
// the terminal would act on: a tenant's port or security group name with an OSC title, a cleared
// screen, an OSC 52 clipboard write, a lone C1 CSI, a CR or a bidi override is shown escaped.
import { run } from '../../../src/cli/main';
import { drawAudit, drawPath, jsonLine, paint, termSafe, traceLine } from '../../../src/cli/render';

const EVIL = 'lsp\x1b]0;pwned\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07\x1b]8;;http://x\x1b\\\r\x9b31m\u202eevil\u2066';
/** Anything a terminal acts on, but the newline the client puts between lines. */
const ACTIVE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
const plain = paint(false);
const verdict = { kinds: ['drop'], logicalPorts: [EVIL], logicalFlow: 'u', northbound: { table: 'ACL', uuid: 'n', summary: `ACL ${EVIL}` }, reason: EVIL, tunnels: [{ remoteChassis: EVIL }] };
const trace = { id: 1, createdAt: '2026-12-05T08:00:00.123Z', flow: `icmp,nw_src=${EVIL},ct_state=${EVIL}`, verdict, chassis: EVIL, pathId: 2, arrivedFrom: { traceId: 2, chassis: EVIL } };
const step = { owners: [{ table: 'Logical_Flow', uuid: 'u', stage: EVIL, tableId: 1, pipeline: EVIL, datapaths: [{ name: EVIL }] }], northbound: verdict.northbound };
const path = {
  id: 2,
  chassis: EVIL,
  verdict: { ...verdict, incomplete: true, incompleteReason: EVIL, tunnels: [{ fromTraceId: 1, toTraceId: 3, vni: 1, remoteChassis: EVIL, remoteIp: EVIL }] },
  passes: [
    { ...trace, recircId: EVIL, datapathActions: EVIL, steps: [step] },
    { ...trace, id: 3, recircId: EVIL, datapathActions: EVIL, steps: [step] },
  ],
};

describe('terminal output of API text', () => {
  it('escapes controls and bidi overrides, as visible \\x and \\u escapes', () => {
    expect(termSafe('a\x1b[2Jb\rc\x9bd\u202ee\tf')).toBe('a\\x1b[2Jb\\x0dc\\x9bd\\u202ee\\x09f');
    expect(termSafe('line 1\n\tline 2\r\n', true)).toBe('line 1\n\tline 2\\x0d\n');
  });

  it('a trace line, a drawn path and an audit hold no raw control or bidi character', () => {
    for (const c of [plain, paint(true)]) {
      const strip = (s: string) => s.replace(/\x1b\[\d+m/g, ''); // the client's own colours
      const line = strip(traceLine(trace, c));
      expect(line).not.toMatch(ACTIVE);
      expect(line).not.toContain('\n');
      expect(line).toContain('dropped by ACL lsp\\x1b]0;pwned\\x07');
      const drawn = strip(drawPath(path, c));
      expect(drawn).not.toMatch(ACTIVE);
      expect(drawn).toContain('\\u202eevil');
      expect(strip(drawAudit(`ACL ${EVIL}`, [{ firstSeen: EVIL, ufid: EVIL, packets: 3, traces: [{ verdict, pathId: 2 }] }], c))).not.toMatch(ACTIVE);
    }
  });

  it('a JSON line escapes C1 and bidi controls too, and stays the same JSON', () => {
    const line = jsonLine(trace);
    expect(line).not.toMatch(ACTIVE);
    expect(JSON.parse(line)).toEqual(trace);
  });

  describe('through the commands', () => {
    const realFetch = global.fetch;
    let printed: string[];
    let spies: jest.SpyInstance[];
    const answer = (body: unknown, status = 200, type = 'application/json') => (global.fetch = jest.fn(async () => new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': type } })) as any);
    beforeEach(() => {
      printed = [];
      const grab = (s: string | Uint8Array) => (printed.push(String(s)), true);
      spies = [jest.spyOn(process.stdout, 'write').mockImplementation(grab as any), jest.spyOn(process.stderr, 'write').mockImplementation(grab as any)];
    });
    afterEach(() => {
      global.fetch = realFetch;
      spies.forEach((s) => s.mockRestore());
    });

    it('trace: the ovn-detrace text keeps its lines, not its escapes', async () => {
      answer(`1. ls_in_acl: match ${EVIL}\n    drop;\n`, 200, 'text/plain');
      expect(await run(['trace', '7'])).toBe(0);
      expect(printed.join('')).not.toMatch(ACTIVE);
      expect(printed.join('')).toContain('\n    drop;\n');
    });

    it('path and --json', async () => {
      answer(path);
      expect(await run(['path', '2'])).toBe(0);
      answer(path);
      expect(await run(['path', '2', '--json'])).toBe(0);
      expect(printed.join('')).not.toMatch(ACTIVE);
    });

    it("an error quoting the API's message", async () => {
      answer({ message: `no port ${EVIL}` }, 404);
      expect(await run(['path', '2'])).toBe(1);
      expect(printed.join('')).toMatch(/^ovn-livetrace: no port lsp\\x1b/);
      expect(printed.join('')).not.toMatch(ACTIVE);
    });
  });
});
