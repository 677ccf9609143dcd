// GET /traces?datapath=<uuid> on an instance whose OVN replicas hold nothing (an api instance not
// synced, or a deleted switch whose southbound row has expired): the UUID resolved only through the
// replicas, so it was a 404 while the datapath's name listed its traces. The store keeps a datapath's
// uuid and name where a step cited the row itself (a Datapath_Binding owner, a Logical_Switch or
// Logical_Router stage-hint, ovn_object by its uuid index): those UUIDs list what the name lists. The
// passes are the real captured ones of every pair (test/fixtures/verdicts), stored through the app's
// own store, on the app with no OVS/OVN daemon.
import type { AnnotatedTrace } from '../../../src/correlation/types';
import { StoreService } from '../../../src/storage/store.service';
import { TraceStore } from '../../../src/traces/trace-store';
import { useDaemonlessApp } from '../../support/app';
import { packetNodes, VERDICT_VERSIONS } from '../../support/verdict-fixtures';

jest.setTimeout(120_000);

const DATAPATH_TABLES = new Set(['Datapath_Binding', 'Logical_Switch', 'Logical_Router']);

/** The datapath rows a pass's steps cite, uuid → name. */
function citedDatapaths(t: AnnotatedTrace): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of t.steps) {
    for (const o of s.owners) if (DATAPATH_TABLES.has(o.table) && o.name) out.set(o.uuid, o.name);
    for (const h of s.hints ?? (s.hint ? [s.hint] : [])) if (DATAPATH_TABLES.has(h.table) && h.name) out.set(h.uuid, h.name);
  }
  return out;
}

describe('GET /traces?datapath=<uuid> without OVN', () => {
  const t = useDaemonlessApp();
  const cited = new Map<string, string>();

  beforeAll(async () => {
    const store = t.app.get(TraceStore);
    const { writer } = t.app.get(StoreService);
    for (const version of VERDICT_VERSIONS) {
      for (const n of packetNodes(version, 'same-switch')) {
        await writer.submit((tx) => store.insert(tx, { trace: n.trace, chassis: 'hv1', createdAt: new Date().toISOString(), ufid: n.ufid }));
        for (const [u, name] of citedDatapaths(n.trace)) cited.set(u, name);
      }
    }
  });

  const ids = async (datapath: string) => (await t.http.get(`/traces?datapath=${datapath}&limit=500`).expect(200)).body.items.map((x: { id: number }) => x.id);

  it("lists by a stored datapath's UUID what its name lists", async () => {
    expect(cited.size).toBeGreaterThan(0);
    for (const [uuid, name] of cited) {
      const byName = await ids(name);
      expect(byName.length).toBeGreaterThan(0);
      expect({ uuid, ids: await ids(uuid.toUpperCase()) }).toEqual({ uuid, ids: byName });
    }
  });

  it('still answers 404 for a UUID neither OVN nor the store knows', async () => {
    const res = await t.http.get('/traces?datapath=00000000-0000-0000-0000-000000000000').expect(404);
    expect(res.body).toMatchObject({ field: 'datapath' });
  });
});
