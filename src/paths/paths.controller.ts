import { EXAMPLES } from '../openapi/examples';
import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { includes, pathId, Query as Q, rejectUnknown } from '../common/query';
import { PathsService } from './paths.service';

@ApiTags('traces')
@Controller('paths')
export class PathsController {
  constructor(private readonly paths: PathsService) {}

  @Get(':id')
  @ApiOperation({
    summary: "The passes of one packet in order, linked by recirculation edges, with the path's final verdict",
    description:
      'Across chassis (PostgreSQL shared by agents, or several agents on one SQLite file): a pass that leaves through a Geneve or VXLAN tunnel is followed to the ' +
      "receiving chassis's first pass with the same tunnel and packet, within LIVETRACE_TUNNEL_SKEW_MS; a path asked for by an arrival is followed back " +
      'to its sender. `passes` then holds every chassis\'s passes in order (each names its `chassis`) and `verdict` is the one verdict of the packet: ' +
      '`verdict.chassis` the chassis that delivered or dropped it (else the last one reached), `verdict.tunnels` the hops ' +
      '(`fromChassis`, `fromTraceId`, `remoteIp`, `remoteChassis`, `encap` (`geneve`, `vxlan`, `stt`, `gre` or `other`), `vni` (the tunnel id as sent, a number; its hex text past 2^53, an STT tun_id; with VXLAN the datapath key | the egress key << 12), `ingressKey`, `egressKey` (OVN\'s logical port keys decoded from the Geneve option, the VXLAN VNI or the STT tun_id; a flood\'s egress is its multicast group\'s key, 32768 and up; null where not carried: VXLAN has no ingress, except a flood between availability zones (OVN >= 25.03 flood_remote: sent to or from a chassis the southbound marks is-remote), whose VNI carries the ingress and no egress; both null when the southbound has no row for the chassis that decides), `toTraceId`: null when no arrival was found), ' +
      '`lookBounded: true` on a hop whose link may not be the nearest (the look reads at most 2,048 candidates each side of the start), and ' +
      "`provisional: true` on a hop the receiving chassis's agent may not have stored this packet's arrival for yet (its progress mark, chassis_mark, " +
      "has not passed the point where an arrival stored later could be linked instead, or it never told one), then on the verdict too with " +
      '`provisionalReason` naming each such chassis and its mark: read again, such a path may link another arrival; the same against the sending ' +
      "chassis's mark for a path asked for by an arrival, on the hop into it, or on the verdict alone while no sender of it is stored (the path then starts at the arrival); " +
      '`settledReason` when such a chassis was unknown for the tunnel or silent for LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS past that point: settled without it, `settledWithout` naming each (its tunnel IP when unknown), on the verdict and on each hop so settled; ' +
      '`incomplete` with `incompleteReason` when a pass, an arrival or (past that bound) a sender was not found. The example is a one-chassis path.',
  })
  @ApiQuery({ name: 'include', required: false, enum: ['steps'] })
  @ApiOkResponse({ schema: { example: EXAMPLES.path } })
  get(@Param('id') id: string, @Query() q: Q) {
    rejectUnknown(q, ['include']);
    return this.paths.get(pathId(id, 'id'), includes(q, ['steps']).has('steps'));
  }
}
