// A retis body is read whole (an upcall's events are tied together across lines), and it was read in
// one go: a 16 MiB body (LIVETRACE_INGEST_MAX_BYTES) of upcall events took 3.1 s of CPU here, 1.4 s
// one of repeated documented events, with nothing else served meanwhile (the API, /health, the
// poller's dumps, the tracer). The event loop now turns every RETIS_SLICE_LINES lines while it is read.
// The real IngestService and retis adapter; stand-ins: the store (a writer that takes every chunk at
// once, as in spool-full.spec.ts), the model.
import { IngestService } from '../../../src/ingest/ingest.service';
import { RETIS_SLICE_LINES } from '../../../src/ingest/retis-adapter';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { capturedModel } from '../../support/captured-model';

describe('a large retis body', () => {
  it('is read with the event loop turning, and stored whole', async () => {
    const lines = 20 * RETIS_SLICE_LINES;
    const body = Array.from({ length: lines }, (_, i) => `{"common":{"timestamp":${i + 1}},"ovs":{"event_type":"upcall","cmd":1,"cpu":${i % 4}}}`).join('\n');
    // Turns of the event loop, counted by an immediate that schedules the next.
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const turnsAtWrite: number[] = [];
    let stored = 0;
    const storage = {
      shipper: undefined,
      writer: { submit: async () => (turnsAtWrite.push(turns), stored++, { stored: 1, duplicates: 0 }) },
    };
    const deps = [storage, {}, {}, {}, {}, { chassis: 'hv1' }, { model: capturedModel() }, new MetricsService()] as unknown as ConstructorParameters<typeof IngestService>;
    try {
      const r = await new IngestService(...deps).ingestRetis(body, 'retis');
      expect(r).toMatchObject({ accepted: lines, rejected: 0 });
    } finally {
      ticking = false;
    }
    // Every line read before the first write: the loop turned at least once a slice meanwhile.
    expect(turnsAtWrite[0]).toBeGreaterThanOrEqual(lines / RETIS_SLICE_LINES - 1);
    expect(stored).toBeGreaterThan(0);
  });
});
