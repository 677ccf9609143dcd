// `GET /traces?logical_port=` pages by the port walk's own position. A port row an old agent shipped
// before its trace keeps created_at '' in PostgreSQL (migration PgPortTimeOfOldAgents): it lists
// below every time, and paging past it must go on to the rows below it, not back to the top (the
// cursor was built from the trace's time: two such rows made a client following `next` loop).
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { startApp } from '../support/app';
import { pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
let api: INestApplication | undefined;
afterAll(async () => {
  await api?.close();
});

it("pages a port's list past rows without a time, each trace once, to the end", async () => {
  const url = await spools.pg().database('port_walk_cursor');
  await spools.storeOn(url);
  const trace = (id: number, at: string) =>
    pgRows(
      url,
      `INSERT INTO trace (id, chassis, created_at, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
       VALUES ($1, 'hv1', $2, 'trace', '0x0', 'f', 'f', 'm', 'drop', ',drop,', '{"kind":"drop"}', 0, ''::bytea)`,
      [id, at],
    );
  await trace(1, '2026-12-05T10:00:01.000Z');
  await trace(3, '2026-12-05T10:00:03.000Z');
  await pgRows(url, `INSERT INTO trace_port (trace_id, port_name, role, scope, created_at) VALUES (1, 'lsp1', 'inport', 'logical', '2026-12-05T10:00:01.000Z'), (3, 'lsp1', 'inport', 'logical', '2026-12-05T10:00:03.000Z')`);
  // As an old agent's rows arrive when their traces are not there yet: the trigger has nothing to copy.
  await pgRows(url, `INSERT INTO trace_port (trace_id, port_name, role, scope) VALUES (2, 'lsp1', 'inport', 'logical'), (4, 'lsp1', 'inport', 'logical')`);
  await trace(4, '2026-12-05T10:00:04.000Z');
  await trace(2, '2026-12-05T10:00:02.000Z');
  expect(await pgRows(url, `SELECT trace_id::int AS id FROM trace_port WHERE created_at = '' ORDER BY trace_id`)).toEqual([{ id: 2 }, { id: 4 }]);

  api = await startApp({ LIVETRACE_DB: url, LIVETRACE_ROLE: 'api' });
  await api.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(api.getHttpServer().address() as AddressInfo).port}`;
  const seen: number[] = [];
  let cursor: string | null = '';
  for (let page = 0; page < 8 && cursor !== null; page++) {
    const res = await fetch(`${base}/traces?logical_port=lsp1&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: Array<{ id: number }>; next: string | null };
    seen.push(...body.items.map((t) => t.id));
    cursor = body.next;
  }
  expect(cursor).toBeNull();
  expect(seen).toEqual([3, 1, 4, 2]);
});
