import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * trace.verdict_kinds holds 'controller' for every pass whose verdict tells a controller, as
 * verdictJson now writes it (src/traces/trace-record.ts): a pass that went to ovn-controller and
 * elsewhere too ('mixed': gateway_mtu's check_pkt_len) or that sent it only a copy to log (ACL
 * log=true) was stored without it, so GET /traces?verdict=controller did not find it. Such an old
 * row is marked: 'controller' added to its kinds, and for a log copy `"copy":true` added to its
 * verdict's controller, so that its fate read back (passOfStored) stays the drop or output it was.
 * A log copy is told by its opcode (7, ACTION_OPCODE_LOG) unpaused: the old rows did not record
 * that all of the pass's controller actions were logs. The verdict text is edited where verdictJson
 * puts the two (its kinds array first, the controller object last), not re-serialized: the rest
 * stays byte for byte as it was, the same as PostgreSQL's (migration PgControllerKind).
 */
export class ControllerKind1796800000000 implements MigrationInterface {
  name = 'ControllerKind1796800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // The JSON's own kinds first (a non-empty array, then logicalPorts: verdictJson's order). A row
    // stored with no kind (a 'mixed' pass whose other kind was an unmapped output, which the code
    // before did not count) is left as it was: '[' + ',"controller"' would not be JSON, and whether
    // it was an output or a tunnel is not in the row.
    await queryRunner.query(
      `UPDATE "trace" SET
         "verdict" = substr(verdict, 1, instr(verdict, '],"logicalPorts":') - 1) || ',"controller"' ||
           CASE WHEN json_extract(verdict, '$.controller.opcode') = 7 AND json_extract(verdict, '$.controller.paused') = 0
             THEN substr(verdict, instr(verdict, '],"logicalPorts":'), length(verdict) - instr(verdict, '],"logicalPorts":') - 1) || ',"copy":true}}'
             ELSE substr(verdict, instr(verdict, '],"logicalPorts":')) END,
         "verdict_kinds" = verdict_kinds || 'controller,'
       WHERE instr(verdict, '"controller":{') > 0 AND instr(verdict_kinds, ',controller,') = 0 AND instr(verdict, '],"logicalPorts":') > 0 AND instr(verdict, '{"kinds":[],') = 0`,
    );
  }

  public async down(): Promise<void> {
    // The kinds added are right for the code before too: its filter found fewer, nothing else reads them.
  }
}
