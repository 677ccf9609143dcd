// Migrations that add a column derived from datapath_flow's own text (a tunnel signature from the
// key, a push signature from the actions) fill existing rows here, a page of ids at a time, on
// either dialect: the parse is ours (TypeScript), so SQL cannot do it in one UPDATE.
import type { QueryRunner } from 'typeorm';

export interface FlowColumnFill {
  dialect: 'sqlite' | 'postgres';
  column: string;
  /** The datapath_flow column the value is parsed from. */
  source: 'key' | 'actions';
  /** Rows worth parsing, as SQL on this dialect (a cheap pre-filter; the parse decides). */
  where: string;
  derive: (text: string) => string | null;
}

const PAGE = 5000;

export async function fillFlowColumn(queryRunner: QueryRunner, fill: FlowColumnFill): Promise<void> {
  const pg = fill.dialect === 'postgres';
  for (let after = 0; ; ) {
    const rows = (await queryRunner.query(
      `SELECT id, ${fill.source} AS text FROM datapath_flow WHERE id > ${pg ? '$1' : '?'} AND (${fill.where}) ORDER BY id LIMIT ${PAGE}`,
      [after],
    )) as Array<{ id: number | string; text: string }>;
    if (!rows.length) return;
    after = Number(rows[rows.length - 1].id);
    const filled = rows.map((r) => ({ id: r.id, value: fill.derive(r.text) })).filter((r) => r.value !== null);
    if (!filled.length) continue;
    if (pg)
      await queryRunner.query(
        `UPDATE datapath_flow d SET ${fill.column} = u.value FROM unnest($1::bigint[], $2::text[]) AS u(id, value) WHERE d.id = u.id`,
        [filled.map((r) => r.id), filled.map((r) => r.value)],
      );
    else
      await queryRunner.query(
        `UPDATE datapath_flow SET ${fill.column} = u.value
           FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS value FROM json_each(?)) u
          WHERE datapath_flow.id = u.id`,
        [JSON.stringify(filled.map((r) => [r.id, r.value]))],
      );
  }
}
