// IPv6 neighbor discovery into an ovn-trace microflow, on every supported pair: the Flow: lines
// ofproto/trace printed for a real solicitation and advertisement (test/fixtures/captured/<version>/
// ipv6-nd), and what that pair's real ovn-trace did with the microflow built from them
// (scripts/capture-ovn-trace-fixtures: nd-solicit, nd-advert). OVS prints nd_sll and nd_tll for
// both messages (the absent one as zero); OVN's nd.sll requires a solicitation and nd.tll an
// advertisement, and a microflow naming both is refused: "Constraints are contradictory".
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { flowToExpression } from '../../../src/cross-checks/microflow';
import { parseOvnTrace } from '../../../src/cross-checks/ovn-trace-parse';

const CAPTURED = join(__dirname, '../../fixtures/captured');
const OVN_TRACE = join(__dirname, '../../fixtures/captured-ovn-trace');
const VERSIONS = readdirSync(OVN_TRACE).filter((d) => existsSync(join(OVN_TRACE, d, 'nd-solicit.txt')));

it('captures exist for the three supported pairs', () => {
  expect(VERSIONS).toEqual(expect.arrayContaining(['ovs-3.1.0_ovn-23.03.1', 'ovs-3.5.0_ovn-25.03.0', 'ovs-4.0.0_ovn-26.03.1']));
});

describe.each(VERSIONS)('neighbor discovery on %s', (version) => {
  const dir = join(CAPTURED, version, 'ipv6-nd', 'traces');
  const flows = readdirSync(dir)
    .filter((f) => f.endsWith('.txt') && !f.endsWith('.detrace.txt'))
    .map((f) => /^Flow: (\S+)/m.exec(readFileSync(join(dir, f), 'utf8'))?.[1])
    .filter((l): l is string => !!l && /^icmp6,in_port=/.test(l));
  const captured = (name: string) => ({
    args: (JSON.parse(readFileSync(join(OVN_TRACE, version, `${name}.args.json`), 'utf8')) as { args: string[] }).args,
    output: readFileSync(join(OVN_TRACE, version, `${name}.txt`), 'utf8'),
  });

  it.each([
    ['nd-solicit', 'lsp1', /icmp_type=135,.*nd_target=fd00::2,/],
    ['nd-advert', 'lsp2', /icmp_type=136,.*nd_target=fd00::2,/],
  ])('%s: the microflow of the captured pass is the one this ovn-trace traced', (name, inport, which) => {
    const flow = flows.find((l) => which.test(l));
    expect(flow).toBeDefined();
    const c = captured(name);
    expect(flowToExpression(flow!, inport)).toBe(c.args.at(-1));
    const r = parseOvnTrace(c.output);
    expect(r.pipelines[0]).toMatchObject({ pipeline: 'ingress', datapath: 'sw0', inport });
  });
});
