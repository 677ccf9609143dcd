// The spool's bound and the ingest (issue 19's faults: "an agent that loses the database keeps
// tracing into a bounded local queue"). The tracer drops its new traces once the spool holds
// LIVETRACE_SPOOL_MAX_CHANGES; a producer's POST went on being stored past it, so the bound bound
// nothing for ingested events. Refused whole (503) instead: the producer keeps the batch.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { IngestService } from '../../../src/ingest/ingest.service';
import { capturedModel } from '../../support/captured-model';

const UFID = '8a3b0c2e-1f4d-4e5a-9b6c-7d8e9f0a1b2c';
const line = JSON.stringify({ type: 'ukey_created', id: 'c1', time: '2026-12-06T00:00:00Z', ufid: UFID, key: 'recirc_id(0),in_port(4)', actions: 'drop' });

function service(state: { full: boolean; backlog: number }, written: unknown[], metrics = new MetricsService()) {
  const storage = { shipper: { state }, writer: { submit: async (job: unknown) => (written.push(job), { stored: 1, duplicates: 0 }) } };
  const deps = [storage, {}, {}, {}, {}, { chassis: 'hv1' }, { model: capturedModel() }, metrics] as unknown as ConstructorParameters<typeof IngestService>;
  return new IngestService(...deps);
}

describe('ingest while the spool is full', () => {
  it('refuses the batch whole with a 503 naming the spool, writes nothing, counts the lines', async () => {
    const written: unknown[] = [];
    const metrics = new MetricsService();
    const err = await service({ full: true, backlog: 2_000_123 }, written, metrics).ingestNdjson(`${line}\n${line.replace('"c1"', '"c2"')}\n`, 'usdt').catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503 });
    expect((err as { getResponse(): { message: string; field: string } }).getResponse()).toMatchObject({
      field: 'spool',
      message: 'the spool is full (2000123 changes waiting for PostgreSQL: LIVETRACE_SPOOL_MAX_CHANGES): nothing of this batch was stored; send it again once /health says central is up',
    });
    expect(written).toEqual([]);
    const m = await metrics.registry.getSingleMetric('livetrace_ingest_lines_total')!.get();
    expect(m.values.map((v) => [v.labels.outcome, v.value])).toEqual([['refused_spool_full', 2]]);
  });

  it('counts a refused retis body\'s events once: as many as it would have stored', async () => {
    const retis = readFileSync(join(__dirname, '../../fixtures/documented/retis/events.json'), 'utf8');
    const stored = await service({ full: false, backlog: 10 }, []).ingestRetis(retis, 'retis');
    expect(stored.accepted).toBeGreaterThan(0);
    const metrics = new MetricsService();
    const written: unknown[] = [];
    await expect(service({ full: true, backlog: 2_000_123 }, written, metrics).ingestRetis(retis, 'retis')).rejects.toMatchObject({ status: 503 });
    expect(written).toEqual([]);
    const m = await metrics.registry.getSingleMetric('livetrace_ingest_lines_total')!.get();
    expect(m.values.map((v) => [v.labels.outcome, v.value])).toEqual([['refused_spool_full', stored.accepted]]);
  });

  it('stores as before when it is not full', async () => {
    const written: unknown[] = [];
    const r = await service({ full: false, backlog: 10 }, written).ingestNdjson(`${line}\n`, 'usdt');
    expect(r).toMatchObject({ accepted: 1, rejected: 0 });
    expect(written).toHaveLength(1);
  });
});
