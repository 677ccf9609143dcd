import { Controller, Get, HttpCode, Inject, Post, Query, Req } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiError, badRequest } from '../common/api-error';
import { NDJSON_TYPES } from '../common/http-edge';
import { oneOf, Query as Q, rejectUnknown, str } from '../common/query';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { EVENT_SCHEMA } from './event-schema';
import { readBoundedBody, tooLarge } from './ingest-body';
import { IngestGate } from './ingest-gate';
import { IngestResult, IngestService } from './ingest.service';
import { IngestLifetimesService } from './ingest-lifetimes';

const SOURCE = /^[A-Za-z0-9_.:-]{1,64}$/;

const RESULT_EXAMPLE = {
  accepted: 3,
  rejected: 1,
  duplicates: 1,
  errors: [{ line: 2, reason: 'ufid: must be a full lower-case UUID (got "29330E32")' }],
};

@ApiTags('ingest')
@Controller('ingest')
export class IngestController {
  constructor(
    private readonly ingest: IngestService,
    private readonly lifetimes: IngestLifetimesService,
    private readonly gate: IngestGate,
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
  ) {}

  @Get('schema')
  @ApiOperation({ summary: 'JSON Schema of the v1 event vocabulary accepted by POST /ingest/events' })
  schema() {
    return EVENT_SCHEMA;
  }

  @Post('events')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Ingest v1 events, one JSON object a line (application/x-ndjson)',
    description:
      'Each line is validated alone: the reply counts accepted and rejected lines and gives each rejected line\'s number and reason. ' +
      'An id already stored for its source is accepted but not stored twice. The reply is sent only after the accepted events are committed. ' +
      '413 when the body is over LIVETRACE_INGEST_MAX_BYTES (answered as it passes the limit); 408 when no byte of it came for LIVETRACE_INGEST_BODY_STALL_SECONDS ' +
      'or it did not all come in LIVETRACE_INGEST_BODY_SECONDS (nothing of a cut body is stored). Lines are UTF-8 (a line that is not is refused by its number); a compressed body ' +
      '(Content-Encoding) or another charset is 415. At most LIVETRACE_INGEST_CONCURRENCY bodies are read at once, the next ones wait unread ' +
      '(LIVETRACE_INGEST_QUEUE of them, LIVETRACE_INGEST_WAIT_SECONDS at most); past that 503 with Retry-After, nothing read or stored. ' +
      '`?format=retis` reads retis JSON events instead (as POST /ingest/retis).',
  })
  @ApiConsumes('application/x-ndjson')
  @ApiBody({ schema: { type: 'string', example: '{"type":"upcall","id":"u1","time":"2026-11-27T05:21:55.633Z","upcallType":"miss","key":"recirc_id(0),in_port(4),eth_type(0x0800)"}\n' } })
  @ApiQuery({ name: 'source', required: false, description: 'Producer name for events without their own `source` (default "ingest")' })
  @ApiQuery({ name: 'format', required: false, enum: ['v1', 'retis'] })
  @ApiOkResponse({ schema: { example: RESULT_EXAMPLE } })
  async events(@Req() req: Request, @Query() q: Q) {
    rejectUnknown(q, ['source', 'format']);
    const source = str(q, 'source', { max: 64, pattern: SOURCE, what: 'letters, digits, _ . : - (at most 64)' });
    const format = oneOf(q, 'format', ['v1', 'retis'] as const) ?? 'v1';
    return this.withBody(req, (text) => (format === 'retis' ? this.ingest.ingestRetis(text, source) : this.ingest.ingestNdjson(text, source)));
  }

  @Post('retis')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Ingest a retis events file (retis collect -c ovs --ovs-track [--ovs-enrich-flows] -o file)',
    description:
      'upcall / upcall_enqueue / recv_upcall / flow_operation / action_execute, tied by queue_id, become one `upcall` each; ' +
      'flow_lookup marks its UFID alive; an `ovs-detrace` section becomes a datapath flow and its translation (rule steps). ' +
      'Events of other collectors are counted as ignored.',
  })
  @ApiConsumes('application/x-ndjson')
  @ApiQuery({ name: 'source', required: false, description: 'Default "retis"' })
  @ApiOkResponse({ schema: { example: { ...RESULT_EXAMPLE, ignored: 12 } } })
  async retis(@Req() req: Request, @Query() q: Q) {
    rejectUnknown(q, ['source']);
    const source = str(q, 'source', { max: 64, pattern: SOURCE, what: 'letters, digits, _ . : - (at most 64)' });
    return this.withBody(req, (text) => this.ingest.ingestRetis(text, source));
  }

  @Post('close-lifetimes')
  @HttpCode(200)
  @ApiOperation({
    summary: "Close every open datapath flow lifetime a producer's events created (the producer restarted)",
    description:
      'Lifetimes created or touched by ukey events of `source` that are still open are closed now with reason `producer_restart` ' +
      '(or `reason`). Lifetimes nobody touches for LIVETRACE_INGEST_IDLE_SECONDS are closed as `idle` anyway.',
  })
  @ApiQuery({ name: 'source', required: true, description: 'The producer name its events were ingested under' })
  @ApiQuery({ name: 'reason', required: false, description: 'Removal reason to record (letters and _, default producer_restart)' })
  @ApiOkResponse({ schema: { example: { source: 'usdt', closed: 12 } } })
  async closeLifetimes(@Query() q: Q) {
    rejectUnknown(q, ['source', 'reason']);
    const source = str(q, 'source', { max: 64, pattern: SOURCE, what: 'letters, digits, _ . : - (at most 64)' });
    if (source === undefined) throw badRequest('source', 'is required: the producer whose lifetimes to close');
    const reason = str(q, 'reason', { max: 64, pattern: /^[A-Za-z_]{1,64}$/, what: 'letters and _ (at most 64)' }) ?? 'producer_restart';
    return { source, closed: await this.lifetimes.closeSource(source, reason.toLowerCase()) };
  }

  /**
   * The body's headers checked, then a slot of the gate (ingest-gate.ts) waited for, the body read
   * and `use`d under it; the slot is given back however that ends (413, a client gone mid-body, a
   * failed write), once nothing of the body is held any more.
   */
  private async withBody(req: Request, use: (body: Buffer) => Promise<IngestResult>): Promise<IngestResult> {
    this.checkBody(req);
    const release = await this.gate.enter(req, req.res as Response);
    try {
      return await use(await this.readBody(req));
    } finally {
      release();
    }
  }

  /**
   * Refused before waiting for a slot: a compressed body or another charset (its bytes are the
   * lines as UTF-8, ndjson.ts reads them: either was read as garbage lines, each refused as
   * "not JSON", with a 200), or a Content-Length over the limit.
   */
  private checkBody(req: Request): void {
    const [media, ...params] = (req.headers['content-type'] ?? '').split(';');
    const type = media.trim().toLowerCase();
    if (!NDJSON_TYPES.includes(type)) {
      throw new ApiError(415, `Content-Type must be one of ${NDJSON_TYPES.join(', ')} (got ${JSON.stringify(type || 'none')})`, 'content-type');
    }
    const charset = params.map((p) => /^\s*charset\s*=\s*"?([^";\s]*)"?\s*$/i.exec(p)?.[1].toLowerCase()).find((c) => c !== undefined);
    if (charset !== undefined && !['utf-8', 'utf8', 'us-ascii'].includes(charset)) {
      req.resume();
      throw new ApiError(415, `Content-Type: charset ${JSON.stringify(charset.slice(0, 40))} is not read here: send the lines as UTF-8`, 'content-type');
    }
    const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
    if (encoding !== '' && encoding !== 'identity') {
      req.resume();
      throw new ApiError(415, `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not read here: send the lines uncompressed`, 'content-encoding');
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.config.LIVETRACE_INGEST_MAX_BYTES) {
      req.resume();
      throw tooLarge(this.config.LIVETRACE_INGEST_MAX_BYTES);
    }
  }

  /** The raw body, bounded in size and time (ingest-body.ts). */
  private readBody(req: Request): Promise<Buffer> {
    const c = this.config;
    const bounds = { maxBytes: c.LIVETRACE_INGEST_MAX_BYTES, stallSeconds: c.LIVETRACE_INGEST_BODY_STALL_SECONDS, wholeSeconds: c.LIVETRACE_INGEST_BODY_SECONDS };
    return readBoundedBody(req, req.res as Response, bounds, (bound) => this.gate.bodyCut(bound));
  }
}
