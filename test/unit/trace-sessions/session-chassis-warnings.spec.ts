// POST /trace-sessions takes a chassis no one knows yet (its agent may start later) and says so in
// `warnings`; a chassis is known by its southbound Chassis row, by flows an agent stored under it,
// or by the progress mark (chassis_mark) its agent wrote: an api instance on PostgreSQL sees the
// agents only through the store.
import type { ReplicasService } from '../../../src/replicas/replicas.service';
import { checkRequest } from '../../../src/trace-sessions/session-request';

const replicas = { sb: { rows: () => [{ name: 'hv1', hostname: 'host1' }] } } as unknown as ReplicasService;
const paths = {
  hasChassis: async (c: string) => c === 'hv2',
  markOf: async (c: string) => (c === 'hv3' ? '2026-12-07T00:00:00.000Z' : null),
};
const ask = (chassis: string[]) => checkRequest({ bridge: 'br-int', filter: 'icmp', chassis }, { replicas, here: false, chassis: () => 'api', paths });

describe('checkRequest: chassis no one knows yet', () => {
  it('warns once for each, naming it', async () => {
    const warnings = await ask(['hv1', 'hv2', 'hv3', 'hvX', 'hvX', 'hv9']);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^chassis "hvX": no southbound Chassis row and no agent/);
    expect(warnings[1]).toMatch(/^chassis "hv9"/);
  });

  it('says nothing when every chassis is known, or none is named', async () => {
    expect(await ask(['hv1', 'hv2', 'hv3'])).toEqual([]);
    expect(await checkRequest({ bridge: 'br-int', filter: 'icmp' }, { replicas, here: false, chassis: () => 'api', paths })).toEqual([]);
  });

  it("still refuses a chassis's hostname (no agent would take the session up)", async () => {
    await expect(ask(['host1'])).rejects.toMatchObject({ status: 400 });
  });
});
