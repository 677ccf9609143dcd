// The served text (GET /traces/:id?format=text) against the real ovn-detrace of the pair under test
// (LIVETRACE_PAIR), over the same trace text. On the router topology of the verdict tests the service
// traces lsp1's live datapath flows with its defaults; for every installed flow we take the trace the
// service stored and served, run ofproto/trace on the flow's own key (what the service traces when it
// does not use ofproto/detrace), pipe that text through ovn-detrace, and compare, step by step on the
// cookie, the OVN lines (`  * …` rows, `   * …` hints) of the two texts.
// Every OVN line must be the same, or its difference must be one of DIFFERENCES below, and the
// differences found on this pair must be exactly the ones listed for it. A line both print, ours
// whole and ovn-detrace's cut by one of its quirks, is one difference and counts once in the total.
import { execFile } from 'node:child_process';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { parseDumpFlows } from '../../../src/ovs/dump-flows';
import { traceKey } from '../../../src/ovs/odp-key';
import { Sandbox } from '../../support/sandbox';
import { checkPacket, startTracingLsp1 } from '../../support/verdict-check';
import { VERDICT_PACKETS, VerdictTopology } from '../../support/verdict-topology';
import { asDetracePrints, readDetrace } from '../../support/detrace-text';

jest.setTimeout(600_000);

const PAIR = process.env.LIVETRACE_PAIR ?? 'debian12';
const ALL_PAIRS = ['debian12', 'debian13', 'unstable'];

/**
 * Every way the served OVN lines may differ from ovn-detrace's, and why; `side` says whose line it
 * is (`served`: only we print it, `detrace`: only ovn-detrace does). `pairs`: where it shows up on
 * this topology (the test fails if a listed difference does not show up, or an unlisted one does).
 */
interface Difference {
  /** `served`: a line only we print; `detrace`: a line only ovn-detrace prints; `pair`: a line
   *  each prints, ours mapped by asDetracePrints (its quirks) to ovn-detrace's. */
  readonly side: 'served' | 'detrace' | 'pair';
  readonly line: RegExp;
  readonly why: string;
  readonly pairs: readonly string[];
}

const DIFFERENCES: Record<string, Difference> = {
  // A logical flow whose stage-hint names a Logical_Switch or Logical_Router (e.g. ls_in_pre_lb's
  // `ct_state=+trk` flows, hinted with their switch): ovn-detrace looks a hint up only in ACL,
  // DHCP_Options, Forwarding_Group, Logical_Switch_Port, Logical_Router_Port, Logical_Router_Policy,
  // Load_Balancer, NAT, Logical_Router_Static_Route and QoS, so it prints nothing for it; the
  // served text names the switch or router.
  switchOrRouterHint: {
    side: 'served',
    line: /^ {3}\* Logical (Switch|Router): \S+ \([0-9a-f-]{36}\)$/,
    why: 'ovn-detrace has no hint handler for Logical_Switch / Logical_Router',
    pairs: ['debian12', 'debian13', 'unstable'],
  },
  // ovn-detrace prints a logical flow's match and actions, and an ACL's match, through Python's
  // `.strip('"')`, which cuts the closing quote off a match that ends in a quoted name:
  // `outport == "sw0-lr0"` comes out `outport == "sw0-lr0`. The served text prints the match whole.
  quoteStrippedByDetrace: {
    side: 'pair',
    line: /^ {2}\* Logical flow: |^ {3}\* ACL: /,
    why: "ovn-detrace's str.strip('\"') eats a quote of the match",
    pairs: ['debian12', 'debian13', 'unstable'],
  },
};

function detrace(sb: Sandbox, text: string): Promise<string> {
  return new Promise((res, rej) => {
    const child = execFile(
      'ovn-detrace',
      [`--ovnnb=${sb.env.OVN_NB_DB}`, `--ovnsb=${sb.env.OVN_SB_DB}`, `--ovsdb=${sb.env.OVS_DB}`],
      { env: { ...process.env, ...sb.env }, timeout: 60_000, maxBuffer: 64 << 20 },
      (err, stdout) => (err ? rej(err) : res(stdout)),
    );
    child.stdin!.end(text);
  });
}

/** Longest common subsequence of two line lists: the lines both print, in the same order. */
function common(a: readonly string[], b: readonly string[]): boolean[][] {
  const n = a.length;
  const m = b.length;
  const len = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) len[i][j] = a[i] === b[j] ? len[i + 1][j + 1] + 1 : Math.max(len[i + 1][j], len[i][j + 1]);
  const inA = new Array<boolean>(n).fill(false);
  const inB = new Array<boolean>(m).fill(false);
  for (let i = 0, j = 0; i < n && j < m; ) {
    if (a[i] === b[j]) {
      inA[i++] = true;
      inB[j++] = true;
    } else if (len[i + 1][j] >= len[i][j + 1]) i++;
    else j++;
  }
  return [inA, inB];
}

interface Tally {
  traces: number;
  steps: number;
  /** OVN lines both print for the same step. */
  identical: number;
  /** identical + the lines only one of the two prints. */
  total: number;
  /** Served cookie steps whose cookie the re-trace through ovn-detrace did not reach. */
  unmatchedSteps: string[];
  differences: Map<string, { count: number; example: string }>;
  unexplained: Array<{ trace: number; side: string; line: string; step: string }>;
  notTraced: string[];
  notRetraced: number;
  /** How the service traced them (ofproto/detrace or ofproto/trace), as it chose with its defaults. */
  methods: Record<string, number>;
}

describe(`served text against ovn-detrace on ${PAIR}`, () => {
  let sb: Sandbox;
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  let topo: VerdictTopology;
  const seen = new Set<number>();
  const tally: Tally = { traces: 0, steps: 0, identical: 0, total: 0, unmatchedSteps: [], differences: new Map(), unexplained: [], notTraced: [], notRetraced: 0, methods: {} };

  beforeAll(async () => {
    ({ sb, topo, app, http } = await startTracingLsp1('livetrace-text-', { includeExisting: true }));
  });

  afterAll(async () => {
    const diffs = Object.fromEntries([...tally.differences].map(([k, v]) => [k, v]));
    console.log(
      `served text vs ovn-detrace on ${PAIR}: ${tally.identical}/${tally.total} OVN lines identical over ${tally.steps} cookie steps of ${tally.traces} traces; ` +
        `listed differences ${JSON.stringify(diffs)}; unexplained ${tally.unexplained.length}; steps not reached by the re-trace ${tally.unmatchedSteps.length}; ` +
        `flows not traced ${tally.notTraced.length}, not re-traceable ${tally.notRetraced}; traced by ${JSON.stringify(tally.methods)}`,
    );
    await app?.close();
    await sb?.stop();
  });

  function classify(trace: number, step: string, side: Difference['side'], line: string): void {
    const hit = Object.entries(DIFFERENCES).find(([, d]) => d.side === side && d.line.test(line));
    if (!hit) {
      tally.unexplained.push({ trace, side, line, step });
      return;
    }
    const d = tally.differences.get(hit[0]) ?? { count: 0, example: line };
    d.count++;
    tally.differences.set(hit[0], d);
  }

  /** The served text of every installed flow's trace against ovn-detrace over the flow's own-key trace. */
  async function compareFlows(): Promise<void> {
    const dump = parseDumpFlows(await sb.appctl('dpctl/dump-flows', '-m')).items;
    for (const f of dump) {
      const d = await http.get(`/datapath-flows/${f.ufid}`);
      const t = d.status === 200 ? (d.body.lifetimes?.[0]?.traces?.[0] as { id: number; method: string } | undefined) : undefined;
      if (!t) {
        tally.notTraced.push(f.ufid!);
        continue;
      }
      if (seen.has(t.id)) continue;
      seen.add(t.id);
      tally.methods[t.method] = (tally.methods[t.method] ?? 0) + 1;
      let text: string;
      try {
        text = await sb.appctl('ofproto/trace', traceKey(f.key));
      } catch {
        tally.notRetraced++; // its recirculation id died with its parent: no text to give ovn-detrace
        continue;
      }
      const served = (await http.get(`/traces/${t.id}`).query({ format: 'text' }).expect(200)).text;
      const theirs = new Map<string, string[]>();
      for (const s of readDetrace(await detrace(sb, text))) if (!theirs.has(s.cookie)) theirs.set(s.cookie, s.annotations);
      tally.traces++;
      for (const s of readDetrace(served)) {
        const expected = theirs.get(s.cookie);
        if (!expected) {
          tally.unmatchedSteps.push(`trace ${t.id}: ${s.line}`);
          continue;
        }
        tally.steps++;
        const [oursCommon, theirsCommon] = common(s.annotations, expected);
        tally.identical += oursCommon.filter(Boolean).length;
        tally.total += oursCommon.filter(Boolean).length;
        const onlyTheirs = expected.filter((_, i) => !theirsCommon[i]);
        for (const l of s.annotations.filter((_, i) => !oursCommon[i])) {
          // The same line in ovn-detrace's form (quirks applied): one difference, not two.
          const k = asDetracePrints(l) !== l ? onlyTheirs.indexOf(asDetracePrints(l)) : -1;
          if (k >= 0) onlyTheirs.splice(k, 1);
          classify(t.id, s.line, k >= 0 ? 'pair' : 'served', l);
          tally.total++;
        }
        for (const l of onlyTheirs) {
          classify(t.id, s.line, 'detrace', l);
          tally.total++;
        }
      }
    }
  }

  it.each(Object.keys(VERDICT_PACKETS))('%s: every OVN line of the served text is ovn-detrace’s, or a listed difference', async (name) => {
    // checkPacket sends the packet and waits until the service traced each of its flows; whether the
    // verdict is right is the verdict tests' business, not this one's.
    await checkPacket(sb, http, topo, name).catch(() => undefined);
    const before = tally.unexplained.length;
    await compareFlows();
    expect(tally.unexplained.slice(before)).toEqual([]);
  });

  it('compared every traced flow, and found exactly the differences listed for this pair', () => {
    expect(tally.notTraced).toEqual([]);
    expect(tally.unmatchedSteps).toEqual([]);
    expect(tally.steps).toBeGreaterThan(50);
    const listed = Object.entries(DIFFERENCES).filter(([, d]) => d.pairs.includes(PAIR)).map(([k]) => k).sort();
    expect([...tally.differences.keys()].sort()).toEqual(listed);
    for (const d of Object.values(DIFFERENCES)) for (const p of d.pairs) expect(ALL_PAIRS).toContain(p);
  });
});
