// GET /traces?logical_port=NAME for a name OVN's replicas do not know: the store is asked whether
// any trace touched the port only when the page came back empty (a page with a row of the port
// proves it: the page joins its trace_port rows). The probe was one of a port page's three round
// trips on PostgreSQL (bench/api/RESULTS-postgres.md, stop 27). Same answers: an unknown port is
// still a 404 naming it (before any far pass is looked for), a port the store knows with nothing
// in the page the empty page; with the reader threads and without.
import { ApiError } from '../../../src/common/api-error';
import type { ReplicasService } from '../../../src/replicas/replicas.service';
import type { StoreService } from '../../../src/storage/store.service';
import type { TraceListQuery } from '../../../src/traces/trace-read-store';
import type { TraceStore } from '../../../src/traces/trace-store';
import { TracesService } from '../../../src/traces/traces.service';

/** Traces 1..3 of lsp1, none of 'quiet' (known to the store: traces older than the page's `since`), 'ovn-port' only in OVN. */
function setup(withReader: boolean) {
  const hasPort = jest.fn(async (name: string) => name === 'lsp1' || name === 'quiet');
  const far = jest.fn(async (page: unknown) => page);
  const pageOf = (q: TraceListQuery) => ({ items: q.portName === 'lsp1' ? [{ id: 3 }, { id: 2 }, { id: 1 }] : [], next: null });
  const store = { list: async (q: TraceListQuery) => pageOf(q), hasPort } as unknown as TraceStore;
  const none = { find: () => [], get: () => undefined };
  const replicas = { nb: none, sb: { ...none, find: (_t: string, _c: string, v: string) => (v === 'ovn-port' ? [{}] : []) } } as unknown as ReplicasService;
  const service = new TracesService({} as StoreService, store, replicas);
  service.useFarPasses(far as never);
  if (withReader) service.useReader({ list: async (q) => Buffer.from(JSON.stringify(pageOf(q))), away: () => false });
  return { service, hasPort, far };
}

describe.each([false, true])('a port page, reader threads: %s', (withReader) => {
  const read = async (service: TracesService, port: string) =>
    JSON.parse((await service.listJson({ logicalPort: port, limit: 50, withSteps: false })).toString()) as { items: Array<{ id: number }> };

  it('a page with rows: the store is not probed', async () => {
    const { service, hasPort } = setup(withReader);
    expect((await read(service, 'lsp1')).items.map((t) => t.id)).toEqual([3, 2, 1]);
    expect((await service.list({ logicalPort: 'lsp1', limit: 50, withSteps: false })).items).toHaveLength(3);
    expect(hasPort).not.toHaveBeenCalled();
  });

  it('an empty page of a port no trace and no OVN replica knows: the 404, no far pass looked for', async () => {
    const { service, hasPort, far } = setup(withReader);
    const err = await read(service, 'no-such-port').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).getStatus()).toBe(404);
    expect(JSON.stringify((err as ApiError).getResponse())).toContain('no logical port named \\"no-such-port\\"');
    await expect(service.list({ logicalPort: 'no-such-port', limit: 50, withSteps: false })).rejects.toBeInstanceOf(ApiError);
    expect(hasPort).toHaveBeenCalledTimes(2);
    expect(far).not.toHaveBeenCalled();
  });

  it('an empty page of a port the store knows: the empty page, after one probe', async () => {
    const { service, hasPort } = setup(withReader);
    expect((await read(service, 'quiet')).items).toEqual([]);
    expect(hasPort).toHaveBeenCalledTimes(1);
  });

  it('a port OVN knows: never probed', async () => {
    const { service, hasPort } = setup(withReader);
    expect((await read(service, 'ovn-port')).items).toEqual([]);
    expect(hasPort).not.toHaveBeenCalled();
  });
});
