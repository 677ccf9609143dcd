// POST /trace-sessions names in `warnings` a chassis no one knows. An agent known only by what it
// stored (its chassis_mark, its datapath flows) under a name the southbound lacks (LIVETRACE_CHASSIS
// set to its hostname) is known: an api instance, which has no chassis of its own, must ask the
// store, not warn (nor refuse the hostname) for the one agent that carries the session out.
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonlessApp, type DaemonlessApp } from '../../support/app';
import { allStored } from '../../support/cross-chassis';

let api: DaemonlessApp;
beforeAll(async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'livetrace-session-warnings-')), 'shared.sqlite');
  api = await daemonlessApp({ LIVETRACE_ROLE: 'api', LIVETRACE_DB: file });
  // compute-1's agent wrote its mark into the same file, as agents do.
  const db = new Database(file);
  try {
    allStored(db, ['compute-1']);
  } finally {
    db.close();
  }
});
afterAll(() => api?.close());

it('an api instance takes a chassis an agent marked under without a warning, and warns of one no one knows', async () => {
  const known = await api.http.post('/trace-sessions').send({ bridge: 'br-int', filter: 'icmp', chassis: ['compute-1'] });
  expect({ status: known.status, warnings: known.body.warnings }).toEqual({ status: 201, warnings: [] });
  const unknown = await api.http.post('/trace-sessions').send({ bridge: 'br-int', filter: 'icmp', chassis: ['hvX'] });
  expect(unknown.status).toBe(201);
  expect(unknown.body.warnings).toEqual([expect.stringContaining('chassis "hvX"')]);
});
