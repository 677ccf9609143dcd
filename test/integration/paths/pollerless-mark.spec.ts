// A process without the poller (LIVETRACE_POLLER=false: the vswitchd log alone) traces nothing, so
// no arrival on its chassis will ever be stored for a link to pick. Before, an agent told no
// chassis_mark and every hop into it (and, read from an arrival it sent to, every path) stayed
// provisional for good. It tells its clock: a hop into it settles as not found (src/paths/provisional.ts).
// A role-all process on a SQLite file it shares with agents told none either (mark-writer.ts); it
// tells its own once another chassis told one there.
import 'reflect-metadata';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PathBuilder } from '../../../src/paths/path-builder';
import { PathStore } from '../../../src/paths/path-store';
import { daemonlessApp } from '../../support/app';
import { capturedFlows } from '../../support/captured-multichassis';
import { oneChassis, storePass } from '../../support/cross-chassis';
import { waitFor } from '../../support/wait';

const sent = capturedFlows('debian12', 'hv1.flows-m.txt').filter((l) => l.key.includes('dst=50:54:00:00:00:02') && l.actions.includes('tnl_push('))[0];

/** hv2's chassis_mark in `file` once one is there. */
const hv2Mark = (file: string) =>
  waitFor('a chassis_mark row for hv2', () => {
    const db = new Database(file, { readonly: true });
    try {
      return (db.prepare("SELECT traced_through FROM chassis_mark WHERE chassis = 'hv2'").get() as { traced_through: string } | undefined)?.traced_through;
    } finally {
      db.close();
    }
  });

/** hv1 sent a packet to hv2's encap IP a minute before hv2's mark `told`: the hop, read by an api instance, settles as not found. */
async function hopIntoHv2Settles(file: string, told: string): Promise<void> {
  const db = new Database(file);
  try {
    const { trace } = storePass(db, 'hv1', sent, Date.parse(told) - 60_000, { kinds: ['tunnel'] });
    const store = new PathStore({ db });
    const builder = new PathBuilder(store);
    const p = await oneChassis(store, { LIVETRACE_ROLE: 'api' }, { hv1: '192.168.0.1', hv2: '192.168.0.2' }).extend((await builder.ofTrace(trace))!, (id) => builder.ofTrace(id));
    expect(p!.verdict.tunnels).toEqual([expect.objectContaining({ fromTraceId: trace, remoteChassis: 'hv2', toTraceId: null })]);
    expect(p!.verdict.tunnels[0]).not.toHaveProperty('provisional');
    expect(p!.verdict).not.toHaveProperty('provisional');
    expect(p!.verdict.incompleteReason).toContain('tunnel to 192.168.0.2 (chassis hv2)');
  } finally {
    db.close();
  }
}

it('an agent without the poller tells its clock as its mark: a hop into its chassis, where it stores no arrival, settles as not found', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'livetrace-pollerless-')), 'shared.sqlite');
  const agent = await daemonlessApp({ LIVETRACE_ROLE: 'agent', LIVETRACE_CHASSIS: 'hv2', LIVETRACE_DB: file });
  let told: string;
  try {
    told = await hv2Mark(file);
  } finally {
    await agent.close();
  }
  await hopIntoHv2Settles(file, told);
});

it('a role-all process on a SQLite file an agent of another chassis writes tells its mark too: the hop settles', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'livetrace-all-shared-')), 'shared.sqlite');
  const all = await daemonlessApp({ LIVETRACE_ROLE: 'all', LIVETRACE_CHASSIS: 'hv2', LIVETRACE_DB: file });
  let told: string;
  try {
    // hv1's agent writes into the same file: its mark, as agents write it each second it moves.
    const db = new Database(file);
    try {
      const now = new Date().toISOString();
      db.prepare("INSERT INTO chassis_mark (chassis, traced_through, updated_at) VALUES ('hv1', ?, ?)").run(now, now);
    } finally {
      db.close();
    }
    // Before: none, ever.
    told = await hv2Mark(file);
  } finally {
    await all.close();
  }
  await hopIntoHv2Settles(file, told);
});
