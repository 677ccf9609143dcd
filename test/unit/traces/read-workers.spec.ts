// How many reader threads a process starts (LIVETRACE_READ_WORKERS), whether the audits go to them
// (LIVETRACE_READ_WORKER_AUDITS), and the keys' parsing.
import { CONFIG_SCHEMA } from '../../../src/config/config.schema';
import { auditsInThreads, readWorkerCount } from '../../../src/read-workers/read-pool';

describe('readWorkerCount', () => {
  it.each([
    // role, cores, auto's count
    ['agent', 2, 0], // serves no query: no thread, no PostgreSQL connections for reads
    ['agent', 16, 0],
    ['all', 2, 1], // one beside the tracer, at nice 10
    ['all', 16, 1],
    ['api', 1, 1], // at least one: the pages stay off the HTTP edge's loop
    ['api', 2, 1], // one core left to the HTTP edge
    ['api', 3, 2],
    ['api', 16, 4], // capped: each thread holds its own connections
  ] as const)('auto for role %s on %i cores is %i', (role, cores, n) => {
    expect(readWorkerCount({ LIVETRACE_READ_WORKERS: 'auto', LIVETRACE_ROLE: role }, cores)).toBe(n);
  });

  it('a number is taken as given, 0 included (pages on the event loop), whatever the role', () => {
    expect(readWorkerCount({ LIVETRACE_READ_WORKERS: 0, LIVETRACE_ROLE: 'api' }, 8)).toBe(0);
    expect(readWorkerCount({ LIVETRACE_READ_WORKERS: 3, LIVETRACE_ROLE: 'agent' }, 2)).toBe(3);
  });

  it('parses auto or 0-64, and names what is wrong otherwise', () => {
    const parse = CONFIG_SCHEMA.LIVETRACE_READ_WORKERS;
    expect(parse(' auto ')).toBe('auto');
    expect(parse('0')).toBe(0);
    expect(parse('64')).toBe(64);
    expect(() => parse('65')).toThrow('expected an integer between 0 and 64');
    expect(() => parse('two')).toThrow('expected an integer between 0 and 64');
    expect(() => parse('-1')).toThrow('expected an integer between 0 and 64');
  });
});

describe('auditsInThreads', () => {
  it('auto: on SQLite yes, on PostgreSQL no (measured: the loop bounds SQLite, total CPU PostgreSQL)', () => {
    expect(auditsInThreads({ LIVETRACE_READ_WORKER_AUDITS: 'auto' }, false)).toBe(true);
    expect(auditsInThreads({ LIVETRACE_READ_WORKER_AUDITS: 'auto' }, true)).toBe(false);
  });

  it('true or false is taken as given on either store', () => {
    for (const postgres of [false, true]) {
      expect(auditsInThreads({ LIVETRACE_READ_WORKER_AUDITS: true }, postgres)).toBe(true);
      expect(auditsInThreads({ LIVETRACE_READ_WORKER_AUDITS: false }, postgres)).toBe(false);
    }
  });

  it('parses auto or a boolean, and names what is wrong otherwise', () => {
    const parse = CONFIG_SCHEMA.LIVETRACE_READ_WORKER_AUDITS;
    expect(parse(' auto ')).toBe('auto');
    expect(parse('on')).toBe(true);
    expect(parse('false')).toBe(false);
    expect(() => parse('sometimes')).toThrow('expected true or false');
  });
});
