// The strict reader the /metrics specs scrape with (test/support/prom-text.ts): it reads back what
// prom-client writes, hostile label values included, and refuses each thing the text format 0.0.4
// does not allow, so a scrape it passes is one Prometheus reads as written.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { parsePromText } from '../../support/prom-text';

const HOSTILE = 'a"b\\c\nd';

describe('parsePromText', () => {
  it("reads prom-client's exposition back, hostile label values and help as they were given", async () => {
    const r = new Registry();
    new Counter({ name: 'x_total', help: 'with \\ and\nnewline', labelNames: ['port'], registers: [r] }).inc({ port: HOSTILE }, 2);
    new Histogram({ name: 'h_seconds', help: 'h', buckets: [0.1, 1], labelNames: ['acl'], registers: [r] }).observe({ acl: HOSTILE }, 0.5);
    const families = parsePromText(await r.metrics());
    expect(families.map((f) => [f.name, f.type, f.help])).toEqual([
      ['x_total', 'counter', 'with \\ and\nnewline'],
      ['h_seconds', 'histogram', 'h'],
    ]);
    expect(families[0].samples).toEqual([{ name: 'x_total', labels: { port: HOSTILE }, value: 2, line: 3 }]);
    expect(families[1].samples.map((s) => [s.name, s.labels.le, s.value])).toEqual([
      ['h_seconds_bucket', '0.1', 0],
      ['h_seconds_bucket', '1', 1],
      ['h_seconds_bucket', '+Inf', 1],
      ['h_seconds_sum', undefined, 0.5],
      ['h_seconds_count', undefined, 1],
    ]);
  });

  it('GET /metrics spells a NaN value NaN, as the format does (prom-client 15 writes "Nan"); labels ending " Nan" untouched', async () => {
    const m = new MetricsService();
    new Gauge({ name: 'livetrace_nothing_sampled', help: 'no sample yet', labelNames: ['port'], registers: [m.registry] }).set({ port: 'x Nan' }, NaN);
    expect(await m.registry.metrics()).toMatch(/^livetrace_nothing_sampled\{.*\} Nan$/m);
    const text = await m.exposition();
    expect(text).not.toMatch(/ Nan$/m);
    const [family] = parsePromText(text).filter((f) => f.name === 'livetrace_nothing_sampled');
    expect(family.samples.map((s) => [s.labels.port, s.value])).toEqual([['x Nan', NaN]]);
  });

  it.each([
    ['a value escaped other than \\\\ \\" \\n', '# TYPE a gauge\na{l="x\\ty"} 1\n', /only/],
    ['a raw quote in a value', '# TYPE a gauge\na{l="x"y"} 1\n', /after the value/],
    ['a second TYPE', '# TYPE a gauge\n# TYPE a gauge\na 1\n', /second TYPE/],
    ['a second HELP', '# HELP a x\n# HELP a y\n# TYPE a gauge\na 1\n', /second HELP/],
    ['TYPE after the samples', 'a 1\n# TYPE a gauge\n', /after its samples/],
    ['a family split', '# TYPE a gauge\na{l="1"} 1\n# TYPE b gauge\nb 1\na{l="2"} 1\n', /apart/],
    ['a sample twice', '# TYPE a gauge\na{l="1",m="2"} 1\na{m="2",l="1"} 3\n', /twice/],
    ['a bad metric name', '# TYPE a-b gauge\na-b 1\n', /metric name/],
    ['a bad label name', '# TYPE a gauge\na{1l="x"} 1\n', /label name/],
    ['a value that is no float', '# TYPE a gauge\na 0x10\n', /not a float/],
    ['no final line feed', '# TYPE a gauge\na 1', /line feed/],
    ['a histogram not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', /cumulative/],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
    ['a histogram whose +Inf is not its count', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n', /_count 2/],
  ])('refuses %s', (_, text, message) => {
    expect(() => parsePromText(text)).toThrow(message);
  });
});
