// A synthetic but realistic trace history, built from real annotated passes.
//
// Templates: every captured ofproto/trace reply (test/fixtures/captured/*/traces) annotated with the
// model of the captured NB/SB exactly as the unit tests do, so step shapes, owners, hints, ports
// and verdicts are real. A reply is one packet: its passes become one path.
//
// Scale: the captured topology (sw0/sw1/lr0/public, lsp1..lsp4 and router ports) is stamped out
// as TENANTS copies. Per tenant, every name, MAC, IP, datapath and row UUID is renamed, except the
// logical flows that mention no port, address or name: those stay shared by every tenant, as a
// Logical_DP_Group flow would be. That gives 4 VM ports per tenant (2,000 at 500 tenants), a few
// hundred logical flows cited per port and tens of thousands of distinct OpenFlow rules (the
// cookie of a renamed logical flow changes with its UUID).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AnnotatedTrace } from '../../src/correlation/types';
import { capturedModel, CAPTURED } from '../../test/support/captured-model';
import { annotateReply } from '../../test/support/detrace-agreement';

export type Reply = AnnotatedTrace[];

/** Deterministic PRNG (mulberry32), so two runs build the same history. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (s: string) => createHash('sha1').update(s).digest('hex');
const uuidOf = (seed: string) => {
  const h = hex(seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

const nbUuids = new Map<string, string>();
/** The northbound Logical_Switch_Port / Logical_Router_Port UUID of a port name (as the tracer passes them). */
export const nbUuid = (name: string): string => {
  let u = nbUuids.get(name);
  if (!u) nbUuids.set(name, (u = uuidOf(`nb/${name}`)));
  return u;
};

export function loadTemplates(): Reply[] {
  const model = capturedModel();
  const replies: Reply[] = [];
  for (const sc of readdirSync(CAPTURED, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    const dir = join(CAPTURED, sc.name, 'traces');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.txt') && !x.endsWith('.detrace.txt'))) {
      const passes = annotateReply(readFileSync(join(dir, f), 'utf8'), model).map((p) => ({ ...p, logicalFlows: undefined }));
      if (passes.length) replies.push(passes);
    }
  }
  return replies;
}

const PORT_NAMES = ['cr-lr0-public', 'sw0-lr0', 'lr0-sw0', 'lr0-public', 'public-lr0', 'ln-public', 'lr0-sw1', 'sw1-lr0', 'lsp1', 'lsp2', 'lsp3', 'lsp4'];
const PORTISH = new RegExp(`\\b(${PORT_NAMES.join('|')})\\b|50:54:00|00:00:00:00:ff|10\\.0\\.0\\.|20\\.0\\.0\\.|172\\.16\\.0\\.`);
const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** One template reply, ready to be stamped per tenant by string substitution on its JSON. */
class Stamp {
  private readonly json: string;
  private readonly renamed: Set<string>;

  constructor(reply: Reply, shared: Set<string>) {
    this.json = JSON.stringify(reply);
    this.renamed = new Set([...this.json.matchAll(UUID_RE)].map((m) => m[0]).filter((u) => !shared.has(u)));
  }

  forTenant(t: number): Reply {
    const hi = ((t >> 8) & 0xff).toString(16).padStart(2, '0');
    const lo = (t & 0xff).toString(16).padStart(2, '0');
    const uuids = new Map<string, string>();
    for (const u of this.renamed) uuids.set(u, uuidOf(`${u}/${t}`));
    const cookies = new Map([...uuids].map(([a, b]) => [`0x${a.slice(0, 8)}`, `0x${b.slice(0, 8)}`]));
    const out = this.json
      .replace(UUID_RE, (u) => uuids.get(u) ?? u)
      .replace(/0x[0-9a-f]{8}\b/g, (c) => cookies.get(c) ?? c)
      .replace(new RegExp(`\\b(${PORT_NAMES.join('|')})\\b`, 'g'), (n) => `t${t}-${n}`)
      .replace(/"(sw0|sw1|lr0|public)"/g, (_m, n) => `"t${t}-${n}"`)
      .replace(/50:54:00:00:/g, `50:54:${hi}:${lo}:`)
      .replace(/00:00:00:00:ff:/g, `00:00:${hi}:${lo}:ff:`)
      .replace(/\b(10|20)\.0\.0\.(\d+)/g, (_m, a, d) => `${a}.${t >> 8}.${t & 0xff}.${d}`);
    // A renamed logical flow keeps its template's content hash: (uuid, hash) is still unique.
    return JSON.parse(out) as Reply;
  }
}

/** Logical flows that mention no port, address or name stay shared (a DP-group flow). */
function sharedFlows(replies: Reply[]): Set<string> {
  const shared = new Set<string>();
  for (const r of replies)
    for (const p of r)
      for (const s of p.steps)
        for (const o of s.owners) {
          const lf = o.logicalFlow;
          if (lf && !PORTISH.test(lf.match) && !PORTISH.test(lf.actions) && !PORTISH.test(s.match) && !PORTISH.test(s.actions)) shared.add(lf.uuid);
        }
  // A flow is shared only if every step citing it is port-free.
  for (const r of replies)
    for (const p of r)
      for (const s of p.steps)
        for (const o of s.owners) if (o.logicalFlow && (PORTISH.test(s.match) || PORTISH.test(s.actions))) shared.delete(o.logicalFlow.uuid);
  return shared;
}

export interface WorldOptions {
  tenants: number;
  seed: number;
}

/** Every (template, tenant) pair, built lazily and kept (the history reuses them). */
export class World {
  readonly templates: Reply[];
  private readonly stamps: Stamp[];
  private readonly cache = new Map<number, Reply>();
  readonly sharedLflows: number;

  constructor(readonly opts: WorldOptions) {
    this.templates = loadTemplates();
    const shared = sharedFlows(this.templates);
    this.sharedLflows = shared.size;
    this.stamps = this.templates.map((r) => new Stamp(r, shared));
  }

  reply(template: number, tenant: number): Reply {
    const k = template * 100_000 + tenant;
    let r = this.cache.get(k);
    if (!r) this.cache.set(k, (r = this.stamps[template].forTenant(tenant)));
    return r;
  }

  get built(): number {
    return this.cache.size;
  }

  /** The VM ports (the ones people query): t<tenant>-lsp1..4. */
  vmPorts(): string[] {
    const out: string[] = [];
    for (let t = 0; t < this.opts.tenants; t++) for (let i = 1; i <= 4; i++) out.push(`t${t}-lsp${i}`);
    return out;
  }
}

/** A pass as one packet saw it: the template's flow with its own L4 source port / ICMP id. */
export function varyFlow(p: AnnotatedTrace, r: () => number): AnnotatedTrace {
  const sport = 1024 + Math.floor(r() * 60000);
  const sub = (s: string) => s.replace(/\b(tp_src|ct_tp_src|icmp_id)=\d+/g, (_m, k) => `${k}=${sport}`);
  return { ...p, flow: sub(p.flow), finalFlow: sub(p.finalFlow), megaflow: sub(p.megaflow) };
}

export const ufidOf = (r: () => number): string => {
  const h = () => Math.floor(r() * 0x100000000).toString(16).padStart(8, '0');
  const a = h() + h() + h() + h();
  return `${a.slice(0, 8)}-${a.slice(8, 12)}-${a.slice(12, 16)}-${a.slice(16, 20)}-${a.slice(20, 32)}`;
};
