// What TraceStore's writes remember between writer jobs so as not to ask SQLite again: the ids of
// ovn_object rows (StepRefStore; stored rows never change, so a hit is always right) and the path-scoped port rows
// of the newest traces it wrote. Both are forgotten on rollback (TraceStore.clearCaches), the port
// rows of a pruned trace when it is pruned.

interface ObjectRef {
  db: string;
  table: string;
  name: string | null;
  summary: string;
  detail: string;
  id: number;
}

/**
 * ovn_object ids by the row's fields, found by its uuid first: a key of all six fields was built and
 * hashed for every step that has a hint or a non-flow owner (the summary is a line of text).
 */
export class ObjectIds {
  private byUuid = new Map<string, ObjectRef[]>();
  private size = 0;

  constructor(private readonly max = 200_000) {}

  get(db: string, table: string, uuid: string, name: string | null, summary: string, detail: string): number | undefined {
    const refs = this.byUuid.get(uuid);
    if (refs) for (const r of refs) if (r.summary === summary && r.name === name && r.table === table && r.db === db && r.detail === detail) return r.id;
    return undefined;
  }

  set(db: string, table: string, uuid: string, name: string | null, summary: string, detail: string, id: number): void {
    if (this.size >= this.max) this.clear();
    let refs = this.byUuid.get(uuid);
    if (!refs) this.byUuid.set(uuid, (refs = []));
    refs.push({ db, table, name, summary, detail, id });
    this.size++;
  }

  clear(): void {
    this.byUuid.clear();
    this.size = 0;
  }
}

/** The (port name, role) pairs a trace has a path-scoped trace_port row for. */
export class PortRows {
  private readonly roles = new Map<string, string | string[]>();

  has(name: string, role: string): boolean {
    const r = this.roles.get(name);
    return r === role || (Array.isArray(r) && r.includes(role));
  }

  add(name: string, role: string): void {
    const r = this.roles.get(name);
    if (r === undefined) this.roles.set(name, role);
    else if (Array.isArray(r)) {
      if (!r.includes(role)) r.push(role);
    } else if (r !== role) this.roles.set(name, [r, role]);
  }
}

/**
 * The path-scoped port rows of the newest traces this store inserted, each known from its insert
 * on (exactly: nothing else writes a trace's port rows, and only pruning deletes them). A path's
 * ports are added to every trace of the path on each of its passes (addPathPorts), nearly all of
 * them rows already there: known, they are not asked of SQLite again. A trace not (or no longer)
 * here is written as before, every row an INSERT OR IGNORE.
 */
export class PathPortRows {
  private readonly rows = new Map<number, PortRows>();

  constructor(private readonly max = 20_000) {}

  /** A trace just inserted: none of its rows are path-scoped yet. */
  start(traceId: number): PortRows {
    if (this.rows.size >= this.max) this.rows.delete(this.rows.keys().next().value!);
    const r = new PortRows();
    this.rows.set(traceId, r);
    return r;
  }

  of(traceId: number): PortRows | undefined {
    return this.rows.get(traceId);
  }

  forget(traceId: number): void {
    this.rows.delete(traceId);
  }

  clear(): void {
    this.rows.clear();
  }
}
