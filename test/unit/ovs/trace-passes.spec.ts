// Every pass of a real ofproto/trace reply, in the daemon's order and linked to the pass that queued
// it: what POST /traces stores as one hand-typed path. The expectations are read from the raw text
// by a reader of its own (the `=` rules, the `recirc(0xN)` headers, the `Datapath actions:` lines),
// not from the parser under test.
import { existsSync, readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';
import { flowRecircId, replayQueue, simulatedPasses } from '../../../src/ovs/trace-passes';
import { VERSIONS, versionDir, versionScenarios } from '../../support/captured-model';

const RULE = '='.repeat(79);

/** What the text itself says of its passes: each one's recirc id, queued ids, and header state. */
function readByHand(text: string): Array<{ recircId: number; queues: number[]; ctState: string | null; assumed: boolean }> {
  const lines = text.split('\n');
  const out: Array<{ recircId: number; queues: number[]; ctState: string | null; assumed: boolean }> = [];
  let current = { recircId: 0, queues: [] as number[], ctState: null as string | null, assumed: false };
  const first = /recirc_id=(0x[0-9a-f]+)/.exec(lines[0]);
  if (first) current.recircId = parseInt(first[1], 16);
  out.push(current);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l === RULE && /^recirc\(0x/.test(lines[i + 1] ?? '')) {
      const head = /^recirc\((0x[0-9a-f]+)\)(?: - resume conntrack with (default )?ct_state=(\S+))?/.exec(lines[i + 1])!;
      current = { recircId: parseInt(head[1], 16), queues: [], ctState: head[3] ?? null, assumed: head[2] !== undefined };
      out.push(current);
    } else if (l.startsWith('Datapath actions: ')) {
      current.queues = [...l.matchAll(/recirc\((0x[0-9a-f]+)\)/g)].map((m) => parseInt(m[1], 16));
    }
  }
  return out;
}

/** Every captured trace of a recirc_id 0 flow that ofproto/trace followed through a recirculation. */
function multiPass(): Array<[string, string]> {
  return versionScenarios().flatMap(([version, scenario]) => {
    const dir = join(versionDir(version), scenario, 'traces');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => /^[0-9a-f-]{36}\.txt$/.test(f))
      .map((f) => [`${version}/${scenario}/${f.slice(0, 36)}`, readFileSync(join(dir, f), 'utf8')] as [string, string])
      .filter(([, text]) => !text.startsWith('Flow: recirc_id=') && text.includes(`\n${RULE}\nrecirc(0x`));
  });
}

const CASES = multiPass();

describe('simulatedPasses: every pass of a captured ofproto/trace reply, as one path', () => {
  it.each(VERSIONS)('has multi-pass traces of %s, some with more than two passes', (version) => {
    const mine = CASES.filter(([name]) => name.startsWith(version + '/'));
    expect(mine.length).toBeGreaterThan(5);
    expect(mine.some(([, text]) => readByHand(text).length > 2)).toBe(true);
  });

  it.each(CASES)('%s', (_name, text) => {
    const r = parseOfprotoTrace(text);
    if (r.kind !== 'trace') throw new Error(r.kind);
    const passes = simulatedPasses(r);
    const expected = readByHand(text);
    expect(passes.map((p) => p.recircId)).toEqual(expected.map((e) => e.recircId));
    expect(passes[0]).toMatchObject({ recircId: 0, parent: null, ctState: null });
    for (let i = 1; i < passes.length; i++) {
      // The pass that queued it came earlier: ofproto/trace runs its queue first in, first out, so the
      // i-th pass after the first took the i-th entry queued (the Datapath actions' recirc() in order).
      const parent = expected.flatMap((e, at) => e.queues.map(() => at))[i - 1];
      expect(expected.flatMap((e) => e.queues)[i - 1]).toBe(expected[i].recircId);
      expect(parent).toBeGreaterThanOrEqual(0);
      expect(parent).toBeLessThan(i);
      expect(passes[i].parent).toBe(parent);
      expect(passes[i].ctState).toBe(expected[i].ctState);
      expect(passes[i].ctStateAssumed).toBe(expected[i].assumed);
      // The continuation's Flow: line runs with the id it was queued under.
      expect(flowRecircId(passes[i].pass.flow)).toBe(expected[i].recircId);
    }
    expect(passes[passes.length - 1].pass.datapathActions).toBe(
      text.split('\n').filter((l) => l.startsWith('Datapath actions: ')).pop()!.slice('Datapath actions: '.length),
    );
  });

  it('replayQueue: an id queued twice is taken by the passes that queued it in turn; an id never queued has none', () => {
    const q = (recircId: number, queued: number[]) => ({ recircId, queued });
    expect(replayQueue([q(0, [2, 2]), q(2, [3]), q(2, [3]), q(3, []), q(3, []), q(9, [])])).toEqual({ parents: [null, 0, 0, 1, 2, null], untaken: [] });
    // Cut by the recirculation limit: the last pass's entry was never taken, though its id has passes.
    expect(replayQueue([q(0, [1]), q(1, [1]), q(1, [1])])).toEqual({ parents: [null, 0, 1], untaken: [{ by: 2, id: 1 }] });
  });

  it('reads a hand-typed decimal recirc_id and a Flow: line without one', () => {
    expect(flowRecircId('recirc_id=12,icmp,in_port=1')).toBe(12);
    expect(flowRecircId('icmp,in_port=1,recirc_id=0x1f')).toBe(0x1f);
    expect(flowRecircId('icmp,in_port=1')).toBe(0);
  });
});
