// Which traced passes of a flow a port session selected by its destination ('decide') it keeps
// (decidedFor, what the tracer asks). b669a95 kept every such pass that recirculates, so the first
// pass of a reply into the port (stopped at conntrack before the outport is known) heads its path.
// But 'decide' is an address: another tenant's switch holding the same IP selected every conntracked
// packet to it, and the session stored those passes and every recirculation after them. Now a pass
// that recirculates is kept where a packet to the port starts: its switch, or one that a router on
// it reaches. The replicas are the captured sandbox's (sw0: lsp1-3; sw1: lsp4; lr0 joins both and
// public), with another tenant's switch added: swB, whose lspB holds 10.0.0.2 as lsp2 does in sw0.
import { capturedReplicas } from '../../support/captured-model';
import { OvnModel } from '../../../src/ovn/ovn-model';
import { portTarget } from '../../../src/trace-sessions/port-target';
import { decidedFor } from '../../../src/trace-sessions';
import type { ReplicasService } from '../../../src/replicas/replicas.service';

describe('a pass traced for a port session selecting it by its destination', () => {
  const replicas = capturedReplicas();
  replicas.sb.applyUpdate2({
    Datapath_Binding: { 'b0000000-0000-4000-8000-000000000001': { insert: { tunnel_key: 99, external_ids: ['map', [['name', 'swB'], ['logical-switch', 'b0000000-0000-4000-8000-0000000000ff']]] } } },
    Port_Binding: {
      'b0000000-0000-4000-8000-000000000002': { insert: { logical_port: 'lspB', datapath: ['uuid', 'b0000000-0000-4000-8000-000000000001'], tunnel_key: 1, type: '', mac: ['set', ['50:54:00:00:00:02 10.0.0.2']] } },
    },
  });
  const model = new OvnModel(replicas);
  const port = portTarget(replicas as unknown as ReplicasService, 'lsp1')!;
  /** A pass as the trace annotates it: the inport it entered by, as the model names its datapath, and its recirculations. */
  const pass = (inport: string, recircIds: string[], also: string[] = []) => ({
    ports: [inport, ...also].map((p) => ({ logicalPort: p, datapath: model.portByName(p)?.datapath?.name ?? null })),
    verdict: { recircIds },
  });

  it('keeps a pass naming the port, recirculating or not', () => {
    expect(decidedFor(pass('lsp2', [], ['lsp1']), port)).toBe(true);
    expect(decidedFor(pass('lsp4', ['0x3'], ['lsp1']), port)).toBe(true);
  });

  it("keeps a pass that recirculates before the outport is known on the port's switch, or on one its router reaches", () => {
    expect(decidedFor(pass('lsp2', ['0x3']), port)).toBe(true);
    expect(decidedFor(pass('lsp4', ['0x3']), port)).toBe(true);
  });

  it("not another tenant's pass to the same address, though it recirculates", () => {
    expect(model.portByName('lspB')?.datapath?.name).toBe('swB');
    expect(decidedFor(pass('lspB', ['0x3']), port)).toBe(false);
  });

  it('not a pass that ends the packet without the port (an ARP for its address answered by the switch)', () => {
    expect(decidedFor(pass('lsp2', []), port)).toBe(false);
  });
});
