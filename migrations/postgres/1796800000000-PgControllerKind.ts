import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The SQLite migration ControllerKind, on PostgreSQL: the rows already shipped get 'controller' in
 * their verdict_kinds when their verdict tells a controller, and a log copy `"copy":true`, the
 * verdict text edited at its end (not through jsonb, which would reorder its keys: both stores
 * answer byte for byte the same). Rows an agent of the code before ships later come as it wrote them.
 */
export class PgControllerKind1796800000000 implements MigrationInterface {
  name = 'PgControllerKind1796800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // The JSON's own kinds first (a non-empty array, then logicalPorts: verdictJson's order). A row
    // stored with no kind (a 'mixed' pass whose other kind was an unmapped output, which the code
    // before did not count) is left as it was: '[' + ',"controller"' would not be JSON, and whether
    // it was an output or a tunnel is not in the row.
    await queryRunner.query(
      `UPDATE "trace" SET
         "verdict" = substr(verdict, 1, strpos(verdict, '],"logicalPorts":') - 1) || ',"controller"' ||
           CASE WHEN (verdict::json -> 'controller' ->> 'opcode') = '7' AND (verdict::json -> 'controller' ->> 'paused') = 'false'
             THEN substr(verdict, strpos(verdict, '],"logicalPorts":'), length(verdict) - strpos(verdict, '],"logicalPorts":') - 1) || ',"copy":true}}'
             ELSE substr(verdict, strpos(verdict, '],"logicalPorts":')) END,
         "verdict_kinds" = verdict_kinds || 'controller,'
       WHERE strpos(verdict, '"controller":{') > 0 AND strpos(verdict_kinds, ',controller,') = 0 AND strpos(verdict, '],"logicalPorts":') > 0 AND strpos(verdict, '{"kinds":[],') = 0`,
    );
  }

  public async down(): Promise<void> {
    // The kinds added are right for the code before too: its filter found fewer, nothing else reads them.
  }
}
