// The path picture's labels (web/graph.ts, drawn as SVG <text> by web/picture.ts) name chassis,
// logical datapaths, stages, northbound rows, ports and tunnel ends that come from OVN, OVS and
// ingested events, some set by tenants. A name holding U+202E (right-to-left override) turned the
// rest of its label around, as it did the one-line verdict before web/safe-text.ts isolate(): every
// such name is isolated the same way (escaped, then U+2068 … U+2069), and clipping a long label
// never leaves an isolate open.
import { syntheticPath } from '../../../bench/ui/synthetic-path';
import { buildPicture } from '../../../web/graph';

const RLO = '\u202e';
const [FSI, PDI] = ['\u2068', '\u2069'];
/** Characters that reorder or break a line, or that a browser does not show. */
const ACTIVE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
/** The label with its isolates taken off: what is left must hold no active character. */
const outsideIsolates = (s: string) => s.replace(new RegExp(`${FSI}[^${FSI}${PDI}]*${PDI}`, 'g'), '·');

function hostilePath(name: string) {
  const two = syntheticPath(2, 3) as any;
  const [a, b] = two.passes;
  const named = (p: any) => ({
    ...p,
    datapathActions: `ct(zone=1),output:${name}`,
    steps: p.steps.map((s: any, i: number) => ({
      ...s,
      owners: s.owners.map((o: any) => ({ ...o, stage: `${o.stage}${name}`, datapaths: [{ name }] })),
      northbound: i === 0 ? { table: 'ACL', uuid: `nb-${p.id}`, summary: `ACL "${name}" drop` } : s.northbound,
    })),
  });
  return {
    ...two,
    passes: [named(a), { ...named(b), chassis: name, verdict: { kinds: ['output'], logicalPorts: [name, 'lsp2'] } }],
    verdict: { ...two.verdict, tunnels: [{ fromTraceId: a.id, toTraceId: b.id, vni: 1, remoteIp: '192.168.0.2', remoteChassis: name }] },
  };
}

describe('the path picture: names cannot reorder its labels', () => {
  it.each([
    ['a right-to-left override', `x${RLO}y`],
    ['a name that closes an isolate first, then overrides', `a${PDI}${RLO}b`],
    ['a newline and an escape', 'a\n\x1b[2Jb'],
    ['a long name with an override (clipped inside the isolate)', `${RLO}${'p'.repeat(200)}`],
  ])('%s', (_what, name) => {
    const pic = buildPicture(hostilePath(name));
    const labels = [...pic.nodes.flatMap((n) => [n.label, n.sub, n.sub2]), ...pic.edges.map((e) => e.label)].filter((l): l is string => !!l);
    for (const l of labels) expect([l, outsideIsolates(l)]).toEqual([l, expect.not.stringMatching(ACTIVE)]);
    // Every name is there, escaped, inside an isolate.
    const out = pic.nodes.find((n) => n.role === 'verdict' && n.mark === 'output')!.label;
    if (name.length < 40) expect(out).toBe(`output → ${FSI}${name.replace(/[\u0000-\u001f\u2069\u202e]/g, (c) => (c.charCodeAt(0) < 0x100 ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : `\\u${c.charCodeAt(0).toString(16)}`))}${PDI}, ${FSI}lsp2${PDI}`);
  });
});

describe('the path picture: clipping counts characters as shown', () => {
  it('a label of names outside the basic plane that fits is not marked cut', () => {
    // 30 emoji are 30 characters shown (60 UTF-16 units): the output label fits its 52.
    const name = '\u{1F600}'.repeat(30);
    const out = buildPicture(hostilePath(name)).nodes.find((n) => n.role === 'verdict' && n.mark === 'output')!.label;
    expect(out).toBe(`output → ${FSI}${name}${PDI}, ${FSI}lsp2${PDI}`);
  });
});
