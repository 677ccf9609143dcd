// The rows a trace's packed steps (step-pack.ts) cite — OpenFlow rules, logical-flow snapshots, OVN
// objects, one statement per table for a page of traces — and the steps as the API shows them,
// built from those rows. TraceReadStore (trace-read-store.ts) reads the trace rows and their ports
// and calls these for traces read with steps; TraceStore (trace-store.ts) packs the owner flags.
import type { SqlReader } from '../storage/sql';
import type { StepHint, StepOwner } from '../correlation/types';
import { PackedStep, unpackSteps } from './step-pack';
import { OwnerJson, ownerJson, StepJson } from './trace-record';
import { unownedEvpnFlow } from '../ovn/evpn-flows';

/** Owner flags in a packed step. */
export const STALE = 1;
export const COLLISION = 2;

/** A page's unpacked steps by trace id and the rows they refer to, one statement per table for the page. */
export interface StepRows {
  steps: Map<number, PackedStep[]>;
  rules: Map<number, RuleRow>;
  lflows: Map<number, LflowRow>;
  objects: Map<number, ObjectRow>;
}

/** The rules, logical-flow snapshots and OVN objects these traces' steps refer to. */
export async function stepRows(q: SqlReader, rows: Array<{ id: number; steps: Buffer }>): Promise<StepRows> {
  const byTrace = new Map(rows.map((r) => [r.id, unpackSteps(r.steps)]));
  const steps = [...byTrace.values()].flat();
  const [rules, lflows, objects] = await Promise.all([
    byId<RuleRow>(q, 'SELECT id, bridge, table_id, priority, cookie, match, actions FROM of_rule', steps, (s) => s.ruleId),
    byId<LflowRow>(q, 'SELECT id, uuid, datapaths, pipeline, table_id, stage, priority, match, actions, source FROM logical_flow_snapshot', steps, (s) => s.lflowId),
    byId<ObjectRow>(q, 'SELECT id, tbl, uuid, name, summary, detail FROM ovn_object', steps, (s) => s.ownerId, (s) => s.hintId),
  ]);
  return { steps: byTrace, rules, lflows, objects };
}

/** The steps of one trace as the API shows them, from the rows they refer to. */
export function readSteps(steps: PackedStep[], collisions: Record<string, StepOwner[]>, { rules, lflows, objects }: StepRows): StepJson[] {
  const out: StepJson[] = [];
  for (const s of steps) {
    const r = rules.get(s.ruleId);
    if (!r) continue; // rules are never deleted; a missing one was never committed
    const stale = (s.flags & STALE) !== 0;
    const owners: OwnerJson[] = [];
    const l = s.lflowId !== null ? lflows.get(s.lflowId) : undefined;
    const o = s.ownerId !== null ? objects.get(s.ownerId) : undefined;
    if (l) {
      owners.push({
        table: 'Logical_Flow',
        uuid: l.uuid,
        stale,
        datapaths: (JSON.parse(l.datapaths) as Array<{ name: string | null; uuid: string; nbUuid: string | null }>).map((d) => ({
          name: d.name,
          uuid: d.uuid,
          nbUuid: d.nbUuid,
        })),
        pipeline: l.pipeline,
        tableId: l.table_id,
        stage: l.stage,
        priority: l.priority,
        match: l.match,
        actions: l.actions,
        source: l.source,
      });
    } else if (o) owners.push({ table: o.tbl, uuid: o.uuid, stale, name: o.name, summary: o.summary, ...objectDatapath(o.detail) });
    for (const c of collisions[String(s.seq)] ?? []) owners.push(ownerJson(c));
    const h = s.hintId !== null ? objects.get(s.hintId) : undefined;
    // Derived from the rule's own text, as when it was annotated (ovn/evpn-flows.ts), so not stored.
    const own = unownedEvpnFlow(r, owners);
    out.push({
      seq: s.seq,
      depth: s.depth,
      bridge: r.bridge,
      table: r.table_id,
      priority: r.priority,
      cookie: r.cookie,
      match: r.match,
      actions: r.actions,
      owners,
      collision: (s.flags & COLLISION) !== 0,
      northbound: h ? { table: h.tbl as StepHint['table'], uuid: h.uuid, name: h.name, summary: h.summary } : null,
      ...(own ? { controllerFlow: own } : {}),
    });
  }
  return out;
}

/** The rows of one table the steps refer to, by id (the ids as one list parameter). */
async function byId<R extends { id: number }>(q: SqlReader, select: string, steps: PackedStep[], ...refs: Array<(s: PackedStep) => number | null>): Promise<Map<number, R>> {
  const ids = new Set<number>();
  for (const s of steps) for (const ref of refs) {
    const id = ref(s);
    if (id !== null) ids.add(id);
  }
  const out = new Map<number, R>();
  if (!ids.size) return out;
  for (const row of await q.all<R>(`${select} WHERE id IN (${q.inList('int')})`, q.list([...ids]))) out.set(row.id, row);
  return out;
}

/** The logical datapath the store kept with a southbound owner (trace-store's ownerDetail), when any. */
function objectDatapath(detail: string | null): Pick<OwnerJson, 'datapath'> {
  const d = detail ? (JSON.parse(detail) as { datapath?: { name: string | null; uuid: string } | null }).datapath : undefined;
  return d === undefined ? {} : { datapath: d && { name: d.name, uuid: d.uuid } };
}

interface RuleRow {
  id: number;
  bridge: string | null;
  table_id: number;
  priority: number | null;
  cookie: string | null;
  match: string;
  actions: string;
}

/** The columns of a logical flow snapshot a step cites (the audit reads the rest too). */
export interface LflowRow {
  id: number;
  uuid: string;
  datapaths: string;
  pipeline: string;
  table_id: number;
  stage: string | null;
  priority: number;
  match: string;
  actions: string;
  source: string | null;
}

interface ObjectRow {
  id: number;
  tbl: string;
  uuid: string;
  name: string | null;
  summary: string;
  detail: string | null;
}
