// Issue 19 on three chassis (scripts/ovn-sandbox --chassis 3, multi-topology): one agent per chassis
// (LIVETRACE_ROLE=agent, each on its chassis's vswitchd and OVS database, named by its system-id)
// writing into one SQLite file, and one api instance that runs no agent. lsp1 on hv1 pings lsp2 on
// hv2 (same switch) and lsp3 behind the router on hv3; a TCP/80 packet to lsp2 is dropped by the
// to-lport ACL on hv2. GET /paths/:id on the api instance: each path whole across chassis, with the
// right verdict. The sessions are created through the api instance after the agents started: every
// agent takes them up from the shared table, a port's session is carried out on the receiving
// chassis too (by the port's key in the tunnel), `chassis` narrows one, and each chassis keeps its
// own counters. The checks are test/support/three-chassis-checks.ts, the same on PostgreSQL
// (test/postgres/multi-chassis.spec.ts); this file is the SQLite store's set-up.
// Several writers on one SQLite file are safe because storage/writer.ts begins IMMEDIATE (its own
// test has a second process writing); PostgreSQL is the store meant for many agents.
import { join } from 'node:path';
import { Session, ThreeChassis } from '../support/three-chassis';
import { threeChassisChecks } from '../support/three-chassis-checks';

jest.setTimeout(300_000);

let hv: ThreeChassis;
let sessions: { ofLsp1: Session; ofLsp1OnHv1: Session };

beforeAll(async () => {
  hv = await ThreeChassis.start('livetrace-3hv-', (dir) => ({ LIVETRACE_DB: join(dir, 'shared.sqlite') }));
  await hv.startServices();
  sessions = await hv.startSessions();
});

afterAll(async () => {
  await hv?.stop();
});

describe('three agents, one store, an api instance', () => {
  threeChassisChecks(() => ({ hv, ...sessions }));
});
