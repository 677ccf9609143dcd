import { Injectable } from '@nestjs/common';
import { notFound } from '../common/api-error';
import { isUuid, Page } from '../common/query';
import { renderTraceText } from './trace-text';
import { ReplicasService } from '../replicas/replicas.service';
import { StoreService } from '../storage/store.service';
import { TraceJson, TraceRecordInput } from './trace-record';
import { TraceStore } from './trace-store';
import type { TraceListQuery } from './trace-read-store';

/**
 * A port's page with its packets' passes on other chassis the page lacks (PortArrivals, in paths/):
 * after each sender, or, with `chassis`, the asked chassis's far passes merged in where their
 * sender would sit (a new `next` too: the page is bounded, see port-arrivals.ts).
 */
export type FarPasses = (page: Page<TraceJson>, q: TraceListQuery) => Promise<Page<TraceJson>>;

/**
 * Whether a page of this query is looked at for far passes: a logical port's, not as outport, and
 * none of the filters (ufid, logical flow, northbound row, datapath) a far pass could not meet by
 * the port. The other filters (verdict, time, chassis, session) are applied to the far passes.
 */
export function looksForFarPasses(q: TraceListQuery): boolean {
  return q.portName !== undefined && q.role !== 'outport' && !q.ufid && !q.logicalFlow && !q.northboundUuid && !q.datapath;
}

/** How a page with no items begins (JSON.stringify of a Page: `items` first). */
const EMPTY_PAGE = Buffer.from('{"items":[]');

/** What a caller asks for: the query of trace-read-store.ts with the logical port by name or UUID, unresolved. */
export type TraceFilter = Omit<TraceListQuery, 'portName'> & { logicalPort?: string };

/** What reads `GET /traces` pages off the event loop: the reader threads (src/read-workers/), when there are any. */
export interface TracePageReader {
  list(q: TraceListQuery): Promise<Buffer>;
  /** Whether list's error is the reader itself not there (restarting), not the database it reads. */
  away(err: unknown): boolean;
}

@Injectable()
export class TracesService {
  /**
   * Where `GET /traces` pages are read and built: reader threads, each on its own connection (the
   * SQLite file, or PostgreSQL), LIVETRACE_READ_WORKERS of them, set by their module (it builds on
   * this one, read-workers/); none for ':memory:' or 0 workers, and then here on `storage.query`.
   */
  private readWorker?: TracePageReader;
  private farPasses?: FarPasses;
  /** Whether a trace session exists: set by the trace-sessions feature (it builds on this one). */
  private sessionKnown?: (id: number) => Promise<boolean>;

  constructor(
    private readonly storage: StoreService,
    private readonly store: TraceStore,
    private readonly replicas: ReplicasService,
  ) {}

  /** Set by the reader threads' module. */
  useReader(r: TracePageReader): void {
    this.readWorker = r;
  }

  /** Stores one annotated trace through the writer; resolves with its id once committed. */
  record(input: TraceRecordInput): Promise<number> {
    return this.storage.writer.submit((tx) => this.store.insert(tx, input));
  }

  async get(id: number, withSteps = true): Promise<TraceJson> {
    const t = await this.store.read(id, withSteps);
    if (!t) throw notFound(`no trace ${id}`);
    return t;
  }

  /**
   * A trace this process has just stored, once it is where the API reads (with PostgreSQL: shipped
   * from this process's spool; at once on SQLite): the answer of the POST routes that trace now.
   */
  async getStored(id: number): Promise<TraceJson> {
    await this.storage.shipper?.synced();
    return this.get(id);
  }

  async text(id: number): Promise<string> {
    return renderTraceText(await this.get(id, true));
  }

  /**
   * A port by name or UUID, as the name trace_port is keyed by (a UUID is looked up in
   * logical_port_alias, then in OVN); unknown ones are a 404 naming them. Always the name: the
   * primary key (port_name, trace_id) serves every port query.
   */
  async resolvePort(nameOrUuid: string): Promise<string> {
    const p = await this.portOf(nameOrUuid);
    if (p.unsure) await this.mustHavePort(p.name);
    return p.name;
  }

  /**
   * resolvePort without the store's probe of a name OVN does not know: `unsure` then. A page of
   * that port's traces that has a row proves the port (the page joins its trace_port rows), so the
   * pages ask the store only when theirs came back empty: the probe was one of the three round
   * trips of a port's page on PostgreSQL (bench/api/RESULTS-postgres.md, stop 27).
   */
  private async portOf(nameOrUuid: string): Promise<{ name: string; unsure: boolean }> {
    if (isUuid(nameOrUuid.toLowerCase())) {
      const u = nameOrUuid.toLowerCase();
      const alias = await this.store.portNameOfUuid(u);
      if (alias !== undefined) return { name: alias, unsure: false };
      const nb = this.replicas.nb.get('Logical_Switch_Port', u) ?? this.replicas.nb.get('Logical_Router_Port', u);
      if (nb) return { name: String(nb.name), unsure: false };
      const pb = this.replicas.sb.get('Port_Binding', u);
      if (pb) return { name: String(pb.logical_port), unsure: false };
      throw notFound(`no logical port with UUID ${u}`, 'logical_port');
    }
    // OVN's replicas first: in memory, where the store's probe is a round trip to PostgreSQL. The
    // store still knows ports OVN has since deleted.
    const known =
      this.replicas.nb.find('Logical_Switch_Port', 'name', nameOrUuid).length ||
      this.replicas.nb.find('Logical_Router_Port', 'name', nameOrUuid).length ||
      this.replicas.sb.find('Port_Binding', 'logical_port', nameOrUuid).length;
    return { name: nameOrUuid, unsure: !known };
  }

  /** Set by the trace-sessions feature, which owns the sessions' table. */
  useSessions(known: (id: number) => Promise<boolean>): void {
    this.sessionKnown = known;
  }

  /**
   * The 404 of `?session=` naming a session that never was (or is gone with its traces): an empty
   * page alone read the same as "nothing traced yet". Asked only when the page came back empty.
   */
  async mustHaveSession(id: number): Promise<void> {
    if (this.sessionKnown && !(await this.sessionKnown(id))) throw notFound(`no trace session ${id}`, 'session');
  }

  /** The 404 of a port name neither OVN nor any trace knows. */
  private async mustHavePort(name: string): Promise<void> {
    if (!(await this.store.hasPort(name))) throw notFound(`no logical port named ${JSON.stringify(name)}`, 'logical_port');
  }

  /**
   * The filter with its port resolved (here, on the main thread: it asks the OVN replicas),
   * ready for the trace query (trace-read-store.ts); a 404 for an unknown UUID. `unsure`: a name
   * the caller checks with mustHavePort if its page is empty.
   */
  private async withPortResolved(f: TraceFilter): Promise<{ q: TraceListQuery; unsure: boolean }> {
    const { logicalPort, ...given } = f;
    const rest = given.datapath === undefined ? given : { ...given, datapath: await this.datapathName(given.datapath) };
    if (!logicalPort) return { q: rest, unsure: false };
    const p = await this.portOf(logicalPort);
    return { q: { ...rest, portName: p.name }, unsure: p.unsure };
  }

  /**
   * `?datapath=` as the name trace_port keeps, from a name or from a UUID our answers print: the
   * southbound Datapath_Binding's (the text form's `"sw0" (uuid)`, an owner's `datapath.uuid`; a
   * deleted one while its tombstone lasts) or the northbound switch's or router's (`nbUuid`). An
   * unknown UUID is a 404 naming it, as logical_port's. An unknown name stays an empty page: the
   * store keeps the names of datapaths OVN has deleted, and trace_port has no index by datapath
   * that would prove one absent cheaply.
   *
   * OVN's replicas first (in memory, where the store is a round trip to PostgreSQL, and the name new
   * traces are keyed by), then the store: an api instance whose replicas are not synced, or a
   * datapath OVN has deleted and whose tombstone expired, still resolves where a step cited the
   * datapath's own row (datapathNameOfUuid).
   */
  private async datapathName(nameOrUuid: string): Promise<string> {
    const u = nameOrUuid.toLowerCase();
    if (!isUuid(u)) return nameOrUuid;
    const nb = this.replicas.nb.get('Logical_Switch', u) ?? this.replicas.nb.get('Logical_Router', u);
    const name = nb ? String(nb.name) : (this.replicas.model.datapathByUuid(u)?.name ?? (await this.store.datapathNameOfUuid(u)));
    if (!name) throw notFound(`no logical datapath with UUID ${u} (a Datapath_Binding, Logical_Switch or Logical_Router)`, 'datapath');
    return name;
  }

  /** Set by the paths feature, which builds on this one (a routed packet's far passes need its links). */
  useFarPasses(f: FarPasses): void {
    this.farPasses = f;
  }

  async list(f: TraceFilter): Promise<Page<TraceJson>> {
    const { q, unsure } = await this.withPortResolved(f);
    return this.page(q, true, unsure);
  }

  private async page(q: TraceListQuery, far = true, unsure = false, sessionKnown = false): Promise<Page<TraceJson>> {
    const page = await this.store.list(q);
    if (unsure && !page.items.length) await this.mustHavePort(q.portName!);
    if (q.sessionId && !page.items.length && !sessionKnown) await this.mustHaveSession(q.sessionId);
    return far && this.farPasses && looksForFarPasses(q) ? this.farPasses(page, q) : page;
  }

  /**
   * `GET /traces`'s body (JSON, UTF-8), built by a reader thread (see read-workers/read-pool.ts;
   * 503 while it restarts), else here (':memory:', LIVETRACE_READ_WORKERS=0).
   * `far: false` (the stream, which finds far passes its own way): the port's own rows only.
   * `sessionKnown`: the caller proved the session already (the stream, at its start), so an empty
   * page is not asked about again, nor is a session deleted since a 404 in the middle of a stream.
   */
  async listJson(f: TraceFilter, opts: { far?: boolean; sessionKnown?: boolean } = {}): Promise<Buffer> {
    const { q, unsure } = await this.withPortResolved(f);
    const far = opts.far !== false;
    if (!this.readWorker) return Buffer.from(JSON.stringify(await this.page(q, far, unsure, opts.sessionKnown)));
    const body = await this.readWorker.list(q).catch(async (err: unknown) => {
      // No page because the reader is away (restarting: 503, retry): a name neither OVN nor any trace
      // knows is still the 404 it was before the probe moved after the page, not a 503 retried in vain.
      // The database's own failure (an error, a silent server's timeout) is answered as it is: the
      // probe would read the same database, a second wait before the same 503.
      if (unsure && this.readWorker!.away(err)) await this.mustHavePort(q.portName!);
      throw err;
    });
    const empty = body.subarray(0, EMPTY_PAGE.length).equals(EMPTY_PAGE);
    if (unsure && empty) await this.mustHavePort(q.portName!);
    if (q.sessionId && empty && !opts.sessionKnown) await this.mustHaveSession(q.sessionId);
    // Only a page with a tunnel in a verdict can have far passes: the others go out as built. With
    // `chassis` the senders are on other chassis, not in the page: always looked for.
    if (!far || !this.farPasses || !looksForFarPasses(q) || (!q.chassis && !body.includes('"tunnels":[{'))) return body;
    const page = JSON.parse(body.toString('utf8')) as Page<TraceJson>;
    return Buffer.from(JSON.stringify(await this.farPasses(page, q)));
  }
}
