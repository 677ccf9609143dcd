// TraceQueue: bounded (a full queue refuses, so the tracer can count the drop), one job at a time
// in arrival order, a job put back runs after those already waiting; stop() waits for the job
// running (the tracer's shutdown counts what it stores) and starts no other.
import { TraceQueue } from '../../../src/collectors/trace-queue';

describe('TraceQueue', () => {
  it('runs one job at a time in order, refuses past its capacity, and reports its depth', async () => {
    const ran: number[] = [];
    const depths: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new TraceQueue<number>(2, 1_000_000, async (n) => {
      ran.push(n);
      if (n === 1) await gate;
    }, (d) => depths.push(d));
    expect(q.push(1)).toBe(true); // taken at once: job 1 runs, waiting at the gate
    expect(q.push(2)).toBe(true);
    expect(q.push(3)).toBe(true);
    expect(q.push(4)).toBe(false);
    expect(q.depth).toBe(2);
    expect(ran).toEqual([1]);
    release();
    await new Promise((r) => setImmediate(r));
    expect(ran).toEqual([1, 2, 3]);
    expect(q.depth).toBe(0);
    expect(depths.at(-1)).toBe(0);
    q.stop();
  });

  it('a job put back runs after the jobs already waiting', async () => {
    jest.useFakeTimers();
    try {
      const ran: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const q = new TraceQueue<string>(10, 1_000_000, async (j) => {
        ran.push(j);
        if (j === 'first') await gate;
      });
      q.push('first');
      q.pushLater('again', 1000);
      q.push('second');
      jest.advanceTimersByTime(1000);
      release();
      await Promise.resolve();
      await Promise.resolve();
      await Promise.resolve();
      expect(ran).toEqual(['first', 'second', 'again']);
      q.stop();
    } finally {
      jest.useRealTimers();
    }
  });

  it('stop() resolves once the job running has finished, and runs none of those waiting', async () => {
    const ran: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let finished = false;
    const q = new TraceQueue<number>(10, 1_000_000, async (n) => {
      ran.push(n);
      if (n === 1) await gate;
      finished = true;
    });
    q.push(1);
    q.push(2);
    const stopped = q.stop().then(() => finished);
    release();
    expect(await stopped).toBe(true);
    expect(ran).toEqual([1]);
  });

  it('stop() does not wait out the rate limit of a queue waiting for its next token', async () => {
    const ran: number[] = [];
    // One token a minute: the second job waits for the bucket.
    const q = new TraceQueue<number>(10, 1 / 60, async (n) => void ran.push(n));
    q.push(1);
    q.push(2);
    await new Promise((r) => setImmediate(r));
    await q.stop();
    expect(ran).toEqual([1]);
  });
});
