// Automatic cross-checks of a `crossCheck: true` session's paths. They run one at a time (each
// ovn-trace reads the whole southbound database) while a busy session completes paths far faster,
// so a backlog builds; it was carried out whatever happened to the session: a stopped (or expired,
// or completed) session went on running ovn-trace, path after path, and storing what it said.
// Stand-ins: the tracer (its pathUpdated events), the sessions' active map, and a cross-check that
// finishes when the test says.
import { EventEmitter } from 'node:events';
import { AutoCrossCheckService } from '../../../src/cross-checks/auto-cross-check.service';
import type { CrossChecksService } from '../../../src/cross-checks/cross-checks.service';
import type { TracerService } from '../../../src/collectors/tracer.service';
import type { ActiveSession, TraceSessionsService } from '../../../src/trace-sessions/trace-sessions.service';
import { waitFor } from '../../support/wait';

describe('automatic cross-checks', () => {
  it('a session stopped while its paths wait has none of them cross-checked any more', async () => {
    const tracer = new EventEmitter() as unknown as TracerService;
    const session = { json: { id: 7, crossCheck: true, state: 'active' } } as unknown as ActiveSession;
    const active = new Map([[7, session]]);
    const sessions = { active } as unknown as TraceSessionsService;
    const started: number[] = [];
    const finish: Array<() => void> = [];
    let holding = true;
    const crossChecks = {
      crossCheck: (traceId: number) => {
        started.push(traceId);
        // The first is held until the session is stopped; any after it ends at once.
        return holding ? new Promise((resolve) => finish.push(() => resolve({ result: 'match' }))) : Promise.resolve({ result: 'match' });
      },
    } as unknown as CrossChecksService;
    const auto = new AutoCrossCheckService(tracer, sessions, crossChecks);
    auto.onApplicationBootstrap();
    try {
      for (let p = 1; p <= 5; p++) tracer.emit('pathUpdated', { pathId: p, traceId: 100 + p, sessionIds: [7], complete: true });
      await waitFor('the first cross-check started', async () => started.length === 1 || undefined, 10_000);
      // The user stops the session while path 1 is being checked and paths 2..5 wait.
      session.json.state = 'stopped';
      active.delete(7);
      holding = false;
      finish.shift()!();
      // Whatever was still due has been looked at once the chain is idle.
      await waitFor('every path due was looked at', async () => {
        const chain = (auto as unknown as { chain: Promise<unknown> }).chain;
        await chain;
        return ((auto as unknown as { pending: Map<number, unknown> }).pending.size === 0 && chain === (auto as unknown as { chain: Promise<unknown> }).chain) || undefined;
      }, 10_000);
      expect(started).toEqual([101]);
    } finally {
      auto.onApplicationShutdown();
      for (const f of finish) f();
    }
  });

  it('a session that ended by reaching its maxTraces still has its last paths cross-checked', async () => {
    const tracer = new EventEmitter() as unknown as TracerService;
    const session = { json: { id: 8, crossCheck: true, state: 'active' } } as unknown as ActiveSession;
    const active = new Map([[8, session]]);
    const started: number[] = [];
    const crossChecks = { crossCheck: async (traceId: number) => (started.push(traceId), { result: 'match' }) } as unknown as CrossChecksService;
    const auto = new AutoCrossCheckService(tracer, { active } as unknown as TraceSessionsService, crossChecks);
    auto.onApplicationBootstrap();
    try {
      tracer.emit('pathUpdated', { pathId: 1, traceId: 201, sessionIds: [8], complete: true });
      // Its last pass stored: the session completes before the path has settled.
      session.json.state = 'completed';
      active.delete(8);
      await waitFor('the path cross-checked', async () => started.length === 1 || undefined, 10_000);
      expect(started).toEqual([201]);
    } finally {
      auto.onApplicationShutdown();
    }
  });

  it('keeps at most 100 paths waiting for ovn-trace: a session completing paths faster than ovn-trace runs does not grow the backlog for good', async () => {
    const tracer = new EventEmitter() as unknown as TracerService;
    const sessions = { active: new Map([[7, { json: { id: 7, crossCheck: true, state: 'active' } }]]) } as unknown as TraceSessionsService;
    const started: number[] = [];
    const finish: Array<() => void> = [];
    const crossChecks = {
      crossCheck: (traceId: number) => {
        started.push(traceId);
        return new Promise((resolve) => finish.push(() => resolve({ result: 'match' })));
      },
    } as unknown as CrossChecksService;
    const auto = new AutoCrossCheckService(tracer, sessions, crossChecks);
    auto.onApplicationBootstrap();
    try {
      for (let p = 1; p <= 300; p++) tracer.emit('pathUpdated', { pathId: p, traceId: 1000 + p, sessionIds: [7], complete: true });
      await waitFor('every path settled', async () => (auto as unknown as { pending: Map<number, unknown> }).pending.size === 0 || undefined, 10_000);
      expect((auto as unknown as { queued: number }).queued).toBe(100);
      // Each one let finish starts the next, up to the 100 kept behind the first.
      while (finish.length) {
        finish.shift()!();
        await new Promise((r) => setImmediate(r));
      }
      expect(started).toHaveLength(101);
    } finally {
      auto.onApplicationShutdown();
    }
  });
});
