// A session as asked for (POST /trace-sessions): the request checked against what this process
// can see before anything is stored (the filter's syntax, this chassis's switch, the chassis
// names, the logical port in the southbound database), then the row stored for it.
import { badRequest, notFound } from '../common/api-error';
import { compileFilter, CompiledFilter, FilterError } from '../ovs/of-filter';
import type { PathStore } from '../paths/path-store';
import type { ReplicasService } from '../replicas/replicas.service';
import { portBinding } from './port-target';
import { chassisByHostname } from './session-selector';
import { checkAgainstSwitch } from './switch-check';
import { emptyStats, TraceSessionJson } from './trace-session-store';

export interface CreateSessionInput {
  bridge: string;
  filter?: string;
  logicalPort?: string;
  maxTraces?: number;
  durationSeconds?: number;
  includeExisting?: boolean;
  crossCheck?: boolean;
  /** Only these chassis carry the session out (default: every chassis). */
  chassis?: string[];
}

/**
 * Throws the API's error for a request no agent could carry out. `here`: this process is an agent
 * (its own switch is checked); `chassis`: its name, read once the switch check waited for the
 * local OVS database. Returns the warnings of what it lets be: a `chassis` entry no one knows yet
 * (no southbound Chassis row, no agent that stored or marked anything under it) is taken, as its
 * agent may start later, but a typo would otherwise wait forever unsaid.
 */
export async function checkRequest(
  input: CreateSessionInput,
  o: { replicas: ReplicasService; here: boolean; chassis: () => string; paths?: Pick<PathStore, 'hasChassis' | 'markOf'> },
): Promise<string[]> {
  let filter: CompiledFilter | undefined;
  if (input.filter !== undefined) {
    try {
      filter = compileFilter(input.filter);
    } catch (err) {
      if (err instanceof FilterError) throw badRequest('filter', err.message);
      throw err;
    }
  }
  // An api instance has no switch of its own: each agent's own bridge is what it traces.
  if (o.here) await checkAgainstSwitch(o.replicas, input.bridge, filter);
  // LIVETRACE_CHASSIS may be a hostname: this process's name, or one flows were stored under, is an agent's.
  const mine = o.here ? o.chassis() : undefined;
  const agent = async (c: string) => c === mine || !!(await o.paths?.hasChassis(c)) || (await o.paths?.markOf(c)) != null;
  const chassisRows = input.chassis ? [...o.replicas.sb.rows('Chassis')] : [];
  const misnamed = input.chassis && (await chassisByHostname(input.chassis, chassisRows, agent));
  if (misnamed) throw badRequest('chassis', misnamed);
  // Its binding only, the one thing portTarget needs to answer at all: the target itself (a route walk) is the agents'.
  if (input.logicalPort !== undefined && !portBinding(o.replicas.sb, input.logicalPort)) {
    throw notFound(`no logical port named ${JSON.stringify(input.logicalPort)} in the southbound database`, 'logicalPort');
  }
  const warnings: string[] = [];
  const inSouthbound = new Set(chassisRows.map((c) => String(c.name)));
  for (const c of new Set(input.chassis ?? [])) {
    if (inSouthbound.has(c) || (await agent(c))) continue;
    warnings.push(
      `chassis ${JSON.stringify(c)}: no southbound Chassis row and no agent has stored anything under this name yet; ` +
        'the session waits for an agent of that name to start (a chassis is named by its system-id: check the spelling)',
    );
  }
  return warnings;
}

/** The row a checked request is stored as, made by `chassis` at `now`. */
export function newSessionRow(input: CreateSessionInput, chassis: string, now: Date): Omit<TraceSessionJson, 'id'> {
  return {
    chassis,
    createdAt: now.toISOString(),
    bridge: input.bridge,
    filter: input.filter ?? null,
    logicalPort: input.logicalPort ?? null,
    maxTraces: input.maxTraces ?? null,
    durationSeconds: input.durationSeconds ?? null,
    includeExisting: !!input.includeExisting,
    crossCheck: !!input.crossCheck,
    expiresAt: input.durationSeconds ? new Date(now.getTime() + input.durationSeconds * 1000).toISOString() : null,
    onChassis: input.chassis ? [...new Set(input.chassis)] : null,
    state: 'active',
    endedAt: null,
    stats: emptyStats(),
    perChassis: {},
  };
}
