import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { noBody } from '../common/body';
import { pathId, Query as Q, rejectUnknown } from '../common/query';
import { CrossChecksService } from './cross-checks.service';

const EXAMPLE = {
  id: 1,
  result: 'diverged',
  divergence: {
    pipeline: 'ingress',
    datapath: 'sw0',
    tableId: 8,
    stage: 'ls_in_acl',
    live: { uuid: '55f46eeb-…', cookie: '0x55f46eeb', stale: true, priority: 2001, match: 'reg0[7] == 1 && (inport == "lsp1" && ip4)', actions: 'reg0[1] = 1; next;' },
    simulated: { uuidPrefix: '0d1c9a2e', priority: 2001, match: 'reg0[7] == 1 && (inport == "lsp1" && ip4)', actions: ['/* drop */'] },
    explanation: 'At ingress(dp="sw0") table 8 (ls_in_acl) the datapath ran logical flow 55f46eeb …, which is no longer in the southbound database (stale), while ovn-trace ran 0d1c9a2e …',
  },
  verdicts: { live: { kinds: ['output'], logicalPorts: ['lsp2'] }, simulated: { outputs: [], dropped: true } },
  command: { argv: ['ovn-trace', '--db=unix:/var/run/ovn/ovnsb_db.sock', '--no-leader-only', '--detailed', '--ct=new,trk', '--ct=new,trk', '--', 'sw0', 'inport == "lsp1" && …'] },
};

@ApiTags('cross-checks')
@Controller()
export class CrossChecksController {
  constructor(private readonly crossChecks: CrossChecksService) {}

  @Post('traces/:id/cross-check')
  @ApiOperation({
    summary: "Cross-check the trace's whole live path against ovn-trace, stage by stage",
    description:
      'Builds the ovn-trace microflow from the live path (inport, flow fields, TTL, the real conntrack state of each recirculation as --ct, ' +
      "a load balancer's NAT as --lb-dst), runs LIVETRACE_OVN_TRACE against OVN_SB_DB and compares, per pipeline, the logical flows both visited. " +
      'The answer: `result` (match or diverged), `divergence` (the first stage that differs, both logical flows), `pipelines` (per pipeline ' +
      'the stages compared and matched, and `excused`: tables not counted as differences, by reason: omittedByOvnTrace, cookie0, ' +
      'sharedOpenflowRule, noMatchBoth, ctClearedByCommit, `equalPriorityTie` (two flows of one stage at one southbound priority both ' +
      'matched and OVS ran the other: a tie, undefined by ovn-sb(5)) and `followsTie` (a later table differing only through what the tied ' +
      "flows' actions did otherwise)), `ties` (each tie with both flows and `followedBy`, its followsTie tables; absent when none), " +
      "`notCompared` (pipelines of another chassis, past a tunnel or a localnet port), `localnet` (a localnet port's VLAN against its tag) and `verdicts`. " +
      '503 when ovn-trace is missing or fails (the message names the binary and its stderr).',
  })
  @ApiParam({ name: 'id', example: 1 })
  @ApiCreatedResponse({ description: 'The stored cross-check', schema: { example: EXAMPLE } })
  @ApiResponse({ status: 422, description: 'No microflow can be built from the path, or the path is incomplete where it differs (a pass not traced): nothing to compare there' })
  @ApiResponse({ status: 503, description: 'ovn-trace missing, timed out or failed' })
  create(@Param('id') id: string, @Query() q: Q, @Body() raw: unknown) {
    rejectUnknown(q, []);
    noBody(raw);
    return this.crossChecks.crossCheck(pathId(id, 'id'));
  }

  @Get('traces/:id/cross-checks')
  @ApiOperation({ summary: "Cross-checks of the trace's path, newest first, and the id of the latest (latestCrossCheck)" })
  @ApiParam({ name: 'id', example: 1 })
  list(@Param('id') id: string, @Query() q: Q) {
    rejectUnknown(q, []);
    return this.crossChecks.ofTrace(pathId(id, 'id'));
  }

  @Get('cross-checks/:id')
  @ApiOperation({ summary: 'One cross-check with the microflow, the exact ovn-trace command line and its output' })
  @ApiParam({ name: 'id', example: 1 })
  get(@Param('id') id: string, @Query() q: Q) {
    rejectUnknown(q, []);
    return this.crossChecks.get(pathId(id, 'id'));
  }
}
