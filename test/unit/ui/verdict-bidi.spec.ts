// The one-line verdict on the page (web/describe.ts verdictText: the path page's verdict line, the
// trace page's summary, the ports and audit lists) names ports, chassis, ACLs and reasons that come
// from OVN, OVS and ingested events, some set by tenants. A name holding U+202E (right-to-left
// override) turned the rest of the line around: `output to lsp‮1, lsp2` read as `output to lsp2 ,1`.
// Each name is isolated (U+2068 … U+2069, the text form of <bdi>) with its bidi and control
// characters shown as the terminal client shows them (\u202e), so a name cannot close the isolate
// early either.
import { incompleteWhy, verdictText } from '../../../web/describe';

const RLO = '\u202e';
const [FSI, PDI] = ['\u2068', '\u2069'];
/** Characters that reorder or break a line, or that a browser does not show. */
const ACTIVE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
const base = { kinds: [] as string[], logicalPorts: [] as string[], logicalFlow: null, northbound: null };
/** The line with the page's isolates taken off: what is left must hold no active character. */
const outsideIsolates = (s: string) => s.replace(new RegExp(`${FSI}[^${FSI}${PDI}]*${PDI}`, 'g'), '·');

describe('the verdict line on the page: names cannot reorder it', () => {
  it.each([
    ['a port name', { ...base, kinds: ['output'], logicalPorts: [`lsp${RLO}1`, 'lsp2'] }, `output to ${FSI}lsp\\u202e1${PDI}, ${FSI}lsp2${PDI}`],
    ['a remote chassis', { ...base, kinds: ['tunnel'], tunnels: [{ remoteChassis: `hv${RLO}2` }, { remoteIp: '192.168.0.3' }] }, `tunnelled to ${FSI}hv\\u202e2${PDI}, ${FSI}192.168.0.3${PDI}`],
    ['an ACL summary', { ...base, kinds: ['drop'], northbound: { table: 'ACL', uuid: 'u', summary: `ACL "pg${RLO}1" drop` } }, `dropped by ${FSI}ACL "pg\\u202e1" drop${PDI}`],
    ['a drop reason', { ...base, kinds: ['drop'], reason: `x${RLO}y` }, `dropped: ${FSI}x\\u202ey${PDI}`],
    ['a controller reason', { ...base, kinds: ['controller'], controller: { reason: `r${RLO}`, stage: null } }, `to ovn-controller: ${FSI}r\\u202e${PDI}`],
    ['a logical flow stage', { ...base, kinds: ['drop'], logicalFlow: '0d1c9a2e-0000', stage: `ls_in_acl${RLO}` }, `dropped by logical flow ${FSI}0d1c9a2e${PDI} (${FSI}ls_in_acl\\u202e${PDI})`],
    ['a name that closes an isolate first (PDI) then overrides', { ...base, kinds: ['output'], logicalPorts: [`a${PDI}${RLO}b`, 'c'] }, `output to ${FSI}a\\u2069\\u202eb${PDI}, ${FSI}c${PDI}`],
    ['a name with a newline and an escape', { ...base, kinds: ['output'], logicalPorts: ['a\n\x1b[2Jb'] }, `output to ${FSI}a\\x0a\\x1b[2Jb${PDI}`],
  ])('%s', (_what, v, want) => {
    const line = verdictText(v as any);
    expect(line).toBe(want);
    expect(outsideIsolates(line)).not.toMatch(ACTIVE);
  });

  it('the incomplete reason beside it too', () => {
    expect(incompleteWhy({ ...base, incomplete: true, incompleteReason: `no arrival on hv${RLO}3` })).toBe(`incomplete: ${FSI}no arrival on hv\\u202e3${PDI}`);
  });

  it('the terminal client keeps its own form (it escapes the API text itself, and a terminal shows isolates as escapes)', () => {
    const v = { ...base, kinds: ['output'], logicalPorts: ['lsp1', 'lsp2'] };
    expect(verdictText(v, undefined, (s) => s)).toBe('output to lsp1, lsp2');
  });
});
