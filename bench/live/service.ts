// Starting the service in-process for the benches, optionally on a database that already holds the
// datapath flows as open lifetimes: PollerService then continues them (seedFromStore, its restart
// path) and every cycle is a steady one. Needed at 10k+ flows, where the first cycle's
// recirculation linking does not finish (see links.ts and RESULTS.md).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { INestApplication } from '@nestjs/common';
import { formatActions } from '../../src/ovs/odp-actions';
import { formatKey, inPort, recircId } from '../../src/ovs/odp-key';
import { parseDumpFlows } from '../../src/ovs/dump-flows';
import { createApp } from '../../src/bootstrap';
import { UnixctlClient } from '../../src/unixctl/client';
import { testConfig } from '../../test/support/app';
import { ROOT } from './common';
import { recircIdHex } from '../../src/ovs/ids';

export function sandboxEnv(dir: string): Record<string, string> {
  const out = spawnSync(join(ROOT, 'scripts/ovn-sandbox'), ['env', dir], { encoding: 'utf8' }).stdout;
  const e: Record<string, string> = {};
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) e[m[1]] = m[2];
  return e;
}

/** Writes the current dump of `socket` as open poller lifetimes; returns how many. */
export async function seedDatabase(dbPath: string, socket: string): Promise<number> {
  const c = new UnixctlClient({ target: socket, timeoutMs: 120_000 });
  const dump = parseDumpFlows(await c.call('dpctl/dump-flows', ['-m']));
  c.close();
  const db = new Database(dbPath);
  const now = new Date().toISOString();
  const ins = db.prepare(
    `INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, in_port, recirc_id, key, actions, packets, bytes, used, source)
     VALUES ('hv1', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'poller')`,
  );
  db.transaction(() => {
    for (const d of dump.items) {
      if (!d.ufid) continue;
      ins.run(d.ufid, now, now, inPort(d.key) ?? null, recircIdHex(recircId(d.key)), d.keyText ?? formatKey(d.key, { masks: true }),
        d.actionsText ?? formatActions(d.actions), d.packets, d.bytes, d.used);
    }
  })();
  db.close();
  return dump.items.length;
}

export interface Started {
  app: INestApplication;
  dbPath: string;
  seeded: number | null;
  /** Closes the app and removes its database folder. */
  close(): Promise<void>;
}

/**
 * createApp (not test/support's startApp) so the caller can listen to PollerService before the
 * first cycle: `beforeInit(app)` runs between creation and init.
 */
export async function startService(env: Record<string, string>, opts: { seedFrom?: string; beforeInit?: (app: INestApplication) => void }): Promise<Started> {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'livetrace-bench-live-')), 'livetrace.sqlite');
  let seeded: number | null = null;
  if (opts.seedFrom) {
    // A first start without the poller only to run the migrations on the new database.
    const migrate = await createApp(testConfig({ ...env, LIVETRACE_DB: dbPath, LIVETRACE_POLLER: 'false' }));
    await migrate.init();
    await migrate.close();
    seeded = await seedDatabase(dbPath, opts.seedFrom);
  }
  const app = await createApp(testConfig({ ...env, LIVETRACE_DB: dbPath }));
  opts.beforeInit?.(app);
  await app.init();
  const close = async () => {
    await app.close();
    rmSync(dirname(dbPath), { recursive: true, force: true });
  };
  return { app, dbPath, seeded, close };
}
