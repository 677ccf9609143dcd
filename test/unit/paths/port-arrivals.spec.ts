// Which passes of a port's page can have a far pass the page lacks (paths/port-arrivals.ts): the
// port rows and tunnels as the tracer stores them for the three-chassis sandbox's packets
// (docs/multi-chassis.md: sw0 holds lsp1 and lsp2, sw1 behind lr0 holds lsp3).
import { sendsAway } from '../../../src/paths/port-arrivals';
import { looksForFarPasses } from '../../../src/traces/traces.service';

type Port = { name: string; role: string; datapath: string | null };
const pass = (ports: Array<[string, string, string | null]>, tunnels: Array<{ datapath?: string | null }>) => ({
  logicalPorts: ports.map(([name, role, datapath]): Port => ({ name, role, datapath })),
  verdict: { tunnels },
});

describe('sendsAway', () => {
  it.each([
    ['routed by lr0 on hv1: tunnel into sw1, lsp1 on sw0', pass([['lsp1', 'inport', 'sw0'], ['lsp3', 'tunnel_out', 'sw1']], [{ datapath: 'sw1' }]), 'lsp1', true],
    ['same switch: the tunnel carries lsp1 as its ingress, the arrival lists itself', pass([['lsp1', 'inport', 'sw0'], ['lsp2', 'tunnel_out', 'sw0']], [{ datapath: 'sw0' }]), 'lsp1', false],
    ['no tunnel: delivered or dropped here', pass([['lsp1', 'inport', 'sw0'], ['lsp2', 'output', 'sw0']], []), 'lsp1', false],
    ['an unknown tunnel datapath (key not in the southbound): looked at', pass([['lsp1', 'inport', 'sw0']], [{ datapath: null }]), 'lsp1', true],
    ['a tunnel without a datapath field (older rows)', pass([['lsp1', 'inport', 'sw0']], [{}]), 'lsp1', true],
    ['the port only as the tunnel outport: its arrival names it', pass([['lsp3', 'inport', 'sw1'], ['lsp1', 'tunnel_out', 'sw0']], [{ datapath: 'sw0' }]), 'lsp1', false],
    ['the port has no datapath recorded: looked at', pass([['lsp1', 'inport', null]], [{ datapath: 'sw0' }]), 'lsp1', true],
  ])('%s', (_what, t, port, expected) => {
    expect(sendsAway(t as never, port)).toBe(expected);
  });
});

describe('looksForFarPasses', () => {
  const base = { portName: 'lsp1', limit: 50, withSteps: false };
  it.each([
    [{ ...base }, true],
    [{ ...base, role: 'any' as const }, true],
    [{ ...base, role: 'inport' as const }, true],
    [{ ...base, role: 'outport' as const }, false],
    [{ ...base, ufid: 'e5c9dc0f-1111-2222-3333-444455556666' }, false],
    [{ ...base, logicalFlow: 'e5c9dc0f-1111-2222-3333-444455556666' }, false],
    [{ ...base, northboundUuid: 'e5c9dc0f-1111-2222-3333-444455556666' }, false],
    [{ ...base, datapath: 'sw0' }, false],
    [{ ...base, verdict: 'output', chassis: 'hv1' }, true],
    [{ limit: 50, withSteps: false }, false],
  ])('%j → %s', (q, expected) => {
    expect(looksForFarPasses(q)).toBe(expected);
  });
});
