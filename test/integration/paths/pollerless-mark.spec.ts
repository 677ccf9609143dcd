// An agent without the poller (LIVETRACE_POLLER=false: the vswitchd log alone) traces nothing, so
// no arrival on its chassis will ever be stored for a link to pick. Before, it told no chassis_mark
// and every hop into it (and, read from an arrival it sent to, every path) stayed provisional for
// good. It tells its clock: a hop into it settles as not found (src/paths/provisional.ts).
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

it("an agent without the poller tells its clock as its mark: a hop into its chassis, where it stores no arrival, settles as not found", async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'livetrace-pollerless-')), 'shared.sqlite');
  const agent = await daemonlessApp({ LIVETRACE_ROLE: 'agent', LIVETRACE_CHASSIS: 'hv2', LIVETRACE_DB: file });
  let told: string;
  try {
    told = await waitFor('a chassis_mark row for hv2', () => {
      const db = new Database(file, { readonly: true });
      try {
        return (db.prepare("SELECT traced_through FROM chassis_mark WHERE chassis = 'hv2'").get() as { traced_through: string } | undefined)?.traced_through;
      } finally {
        db.close();
      }
    });
  } finally {
    await agent.close();
  }
  // hv1 sent a packet to hv2's encap IP a minute before that mark.
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
});
