// GET /traces?verdict=controller finds every pass that sent ovn-controller the packet or a copy of
// it, whatever else the pass did (review of 2b36157/8ff267f): the gateway_mtu pass of lr0
// (check_pkt_len: the long branch to ovn-controller for the ICMP "fragmentation needed", the short
// one on) and a drop whose ACL has log=true (a packet-in carrying a copy to log) were stored
// without 'controller', though their verdicts told the controller. Their primary kind stays: the
// logged drop is still found by verdict=drop and read back as a drop. The passes are the real
// captured ones of every pair (test/fixtures/verdicts), stored through the app's own store and
// listed through its HTTP API (the reader threads), on the app with no OVS/OVN daemon.
import { passOfStored } from '../../../src/paths/path-verdict';
import { StoreService } from '../../../src/storage/store.service';
import type { VerdictJson } from '../../../src/traces/trace-record';
import { TraceStore } from '../../../src/traces/trace-store';
import { useDaemonlessApp } from '../../support/app';
import { packetNodes, VERDICT_VERSIONS } from '../../support/verdict-fixtures';

jest.setTimeout(120_000);

describe('GET /traces?verdict=', () => {
  const t = useDaemonlessApp();
  /** Stored trace ids by `${version} ${packet}` of the pass that matters. */
  const ids = new Map<string, number>();
  /** The pass's verdict kind as annotated, by the same key. */
  const kinds = new Map<string, string>();

  beforeAll(async () => {
    const store = t.app.get(TraceStore);
    const { writer } = t.app.get(StoreService);
    for (const version of VERDICT_VERSIONS) {
      // The pass that holds the packet-in: the check_pkt_len split of gateway-mtu, the logged drop.
      const split = packetNodes(version, 'gateway-mtu').find((n) => /check_pkt_len\(size=\d+,gt\(userspace\(pid=\d+,controller\(/.test(n.installed))!;
      const [logged] = packetNodes(version, 'acl-drop-logged').filter((n) => n.trace.verdict.kind !== 'recirculate');
      const [plain] = packetNodes(version, 'acl-drop').filter((n) => n.trace.verdict.kind !== 'recirculate');
      for (const [packet, n] of [['gateway-mtu', split], ['acl-drop-logged', logged], ['acl-drop', plain]] as const) {
        const id = await writer.submit((tx) => store.insert(tx, { trace: n.trace, chassis: 'hv1', createdAt: new Date().toISOString(), ufid: n.ufid }));
        ids.set(`${version} ${packet}`, id);
        kinds.set(`${version} ${packet}`, n.trace.verdict.kind);
      }
    }
  });

  const listed = async (verdict: string) => {
    const r = await t.http.get(`/traces?verdict=${verdict}&limit=100`).expect(200);
    return new Map((r.body.items as Array<{ id: number; verdict: VerdictJson }>).map((t) => [t.id, t.verdict]));
  };

  it.each(VERDICT_VERSIONS)('%s: verdict=controller finds the gateway_mtu split and the logged drop, not the plain drop', async (version) => {
    const found = await listed('controller');
    const split = found.get(ids.get(`${version} gateway-mtu`)!);
    expect(split?.controller?.reason).toMatch(/^ICMP error, for packets longer than \d+ bytes only/);
    expect(split?.kinds).toContain('controller');
    const logged = found.get(ids.get(`${version} acl-drop-logged`)!);
    expect(logged).toMatchObject({ controller: { reason: 'ACL log', paused: false, copy: true } });
    expect(found.has(ids.get(`${version} acl-drop`)!)).toBe(false);
  });

  it.each(VERDICT_VERSIONS)('%s: the logged drop is still a drop (its primary kind), read back as one', async (version) => {
    const drops = await listed('drop');
    const logged = drops.get(ids.get(`${version} acl-drop-logged`)!)!;
    expect(logged.kinds).toEqual(['drop', 'controller']);
    expect(passOfStored(logged).verdict.kind).toBe('drop');
    expect(drops.has(ids.get(`${version} acl-drop`)!)).toBe(true);
    expect(drops.has(ids.get(`${version} gateway-mtu`)!)).toBe(false);
    // The split's kind read back (path verdicts on read) is the one it was annotated with.
    const split = (await listed('controller')).get(ids.get(`${version} gateway-mtu`)!)!;
    expect(passOfStored(split).verdict.kind).toBe(kinds.get(`${version} gateway-mtu`));
  });

  // No captured pair has an allowed ACL with log=true: its stored verdict, as verdictJson writes it.
  it('a logged delivery is read back as an output, its copy told', () => {
    const v: VerdictJson = {
      kinds: ['output', 'controller'],
      logicalPorts: ['lsp2'],
      logicalFlow: null,
      northbound: null,
      tunnels: [],
      recircIds: [],
      reason: null,
      controller: { reason: 'ACL log', paused: false, opcode: 7, logicalFlow: null, stage: 'ls_out_acl_eval', copy: true },
    };
    expect(passOfStored(v).verdict).toMatchObject({ kind: 'output', controller: { reason: 'ACL log', copy: true } });
    expect(passOfStored({ ...v, controller: { ...v.controller!, copy: undefined } }).verdict.kind).toBe('mixed');
  });
});
