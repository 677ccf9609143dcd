// The v1 event vocabulary (architecture page) as JSON Schema: what USDT scripts, retis or a
// patched ovs-vswitchd send to POST /ingest/events, one JSON object a line. The same object is
// served at GET /ingest/schema and drives the validator (schema-check.ts), so the published
// contract and what the endpoint accepts cannot drift apart. Only ever add optional fields.

/** lib/ofproto-dpif-upcall.c enum flow_del_reason, without the FDR_ prefix. */
export const REVALIDATE_REASONS = [
  'NONE', 'AVOID_CACHING', 'BAD_ODP_FIT', 'FLOW_IDLE', 'FLOW_LIMIT', 'FLOW_WILDCARDED', 'NO_OFPROTO',
  'PURGE', 'TOO_EXPENSIVE', 'UPDATE_FAIL', 'XLATION_ERROR', 'FLOW_MISSING',
] as const;

export const EVENT_TYPES = ['upcall', 'ukey_created', 'ukey_updated', 'ukey_revalidated', 'ukey_removed', 'translation'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const text = (maxLength: number, description?: string) => ({ type: 'string', minLength: 1, maxLength, ...(description ? { description } : {}) });
const count = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const ufid = { type: 'string', format: 'uuid', description: 'Datapath flow UFID, full lower-case UUID' };
const recircId = { type: 'string', pattern: '^(0x[0-9a-f]{1,8}|[0-9]{1,10})$', description: 'recirc_id as in the datapath key (0x1)' };

/** Fields every event has. */
const common = {
  type: { type: 'string', description: 'Event type' },
  id: text(200, 'Unique within its source: a repeated id is accepted but not stored twice'),
  time: { type: 'string', format: 'date-time', description: 'When it happened, RFC 3339' },
  version: { const: 'v1' },
  source: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$', description: 'Producer name (default: ?source= or "ingest")' },
  chassis: { type: 'string', pattern: '^[\\w.:-]{1,255}$', description: 'Chassis the event is about (default: this one)' },
};

function eventType(name: EventType, description: string, required: string[], properties: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    title: name,
    description,
    type: 'object',
    required: ['type', 'id', 'time', ...required],
    additionalProperties: false,
    properties: { ...common, type: { const: name }, ...properties },
    ...extra,
  };
}

const step = {
  type: 'object',
  required: ['table'],
  additionalProperties: false,
  properties: {
    bridge: text(64),
    table: { type: 'integer', minimum: 0, maximum: 255 },
    priority: { type: 'integer', minimum: 0, maximum: 65535 },
    cookie: { type: 'string', pattern: '^0x[0-9a-f]{1,16}$' },
    match: { type: 'string', maxLength: 8192 },
    actions: { type: 'string', maxLength: 65536 },
  },
};

export const EVENT_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://ovn-livetrace/schemas/events/v1.json',
  title: 'ovn-livetrace event v1',
  description: 'One event per NDJSON line. `type` selects the shape.',
  discriminator: { propertyName: 'type' },
  oneOf: [
    eventType('upcall', 'A packet the datapath sent to ovs-vswitchd (dpif_recv:recv_upcall, a vswitchd log upcall, retis upcall).', [], {
      upcallType: { enum: ['miss', 'action', 'exec', 'unspec'] },
      key: text(65536, 'Full ODP key of the packet'),
      packet: text(65536, 'Packet summary'),
      thread: text(64),
      dpif: text(128),
      ufid: { ...ufid, description: 'The datapath flow this upcall installed, when known' },
      queueId: count,
      installed: { type: 'boolean', description: 'A flow put followed (retis flow_operation put)' },
      datapathActions: text(65536, 'Actions the datapath executed for the packet (retis action_execute)'),
    }),
    eventType('ukey_created', 'A datapath flow was installed (op_flow_put, flow_add, a dump).', ['ufid', 'key', 'actions'], {
      ufid,
      key: text(65536, 'ODP key with masks'),
      actions: text(65536, 'ODP actions'),
      packets: count,
      bytes: count,
      used: text(64),
    }),
    eventType('ukey_updated', 'A datapath flow changed counters or actions.', ['ufid'], {
      ufid,
      actions: text(65536),
      packets: count,
      bytes: count,
      used: text(64),
    }),
    eventType('ukey_revalidated', 'A revalidator decided on a datapath flow (revalidate:flow_result).', ['ufid', 'result'], {
      ufid,
      result: { enum: ['KEEP', 'MODIFY', 'DELETE'] },
      reason: { enum: [...REVALIDATE_REASONS] },
    }),
    eventType('ukey_removed', 'A datapath flow was deleted.', ['ufid'], {
      ufid,
      reason: { type: 'string', pattern: '^[A-Za-z_]{1,64}$' },
    }),
    eventType(
      'translation',
      'The OpenFlow translation of a datapath flow or upcall: raw ofproto/trace text, or rule steps (ofproto/detrace).',
      [],
      {
        ufid,
        upcallId: text(200, 'Event id of the upcall (same source) this translation is for'),
        recircId,
        inPort: text(64),
        bridge: text(64),
        text: { type: 'string', minLength: 1, maxLength: 1048576, description: 'ofproto/trace output, as printed' },
        steps: { type: 'array', minItems: 1, maxItems: 4096, items: step },
        flow: text(65536),
        datapathActions: text(65536),
      },
      { oneOfRequired: [['text'], ['steps']] },
    ),
  ],
} as const;

export interface V1Common {
  type: EventType;
  id: string;
  time: string;
  version?: 'v1';
  source?: string;
  chassis?: string;
}
export interface UpcallV1 extends V1Common {
  type: 'upcall';
  upcallType?: string;
  key?: string;
  packet?: string;
  thread?: string;
  dpif?: string;
  ufid?: string;
  queueId?: number;
  installed?: boolean;
  datapathActions?: string;
}
export interface UkeyCreatedV1 extends V1Common {
  type: 'ukey_created';
  ufid: string;
  key: string;
  actions: string;
  packets?: number;
  bytes?: number;
  used?: string;
}
export interface UkeyUpdatedV1 extends V1Common {
  type: 'ukey_updated';
  ufid: string;
  actions?: string;
  packets?: number;
  bytes?: number;
  used?: string;
}
export interface UkeyRevalidatedV1 extends V1Common {
  type: 'ukey_revalidated';
  ufid: string;
  result: 'KEEP' | 'MODIFY' | 'DELETE';
  reason?: (typeof REVALIDATE_REASONS)[number];
}
export interface UkeyRemovedV1 extends V1Common {
  type: 'ukey_removed';
  ufid: string;
  reason?: string;
}
export interface TranslationStepV1 {
  bridge?: string;
  table: number;
  priority?: number;
  cookie?: string;
  match?: string;
  actions?: string;
}
export interface TranslationV1 extends V1Common {
  type: 'translation';
  ufid?: string;
  upcallId?: string;
  recircId?: string;
  inPort?: string;
  bridge?: string;
  text?: string;
  steps?: TranslationStepV1[];
  flow?: string;
  datapathActions?: string;
}
export type EventV1 = UpcallV1 | UkeyCreatedV1 | UkeyUpdatedV1 | UkeyRevalidatedV1 | UkeyRemovedV1 | TranslationV1;
