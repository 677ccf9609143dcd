// Text the pages read: ovn-detrace's blocks by step, ovn-trace --detailed's stages, the live path's
// logical flows cut into pipelines as the cross-check compares them. No DOM: unit-tested.

/** The lines of ovn-detrace text that belong to each step, by the step's position in the pass. */
export function stepBlocks(text: string): string[][] {
  const blocks: string[][] = [];
  for (const line of text.split('\n')) {
    if (/^\s*\d+\. /.test(line)) blocks.push([line]);
    else if (blocks.length && /^\s/.test(line)) blocks[blocks.length - 1].push(line);
    else if (blocks.length && line === '') blocks.push([]);
  }
  return blocks.filter((b) => b.length);
}

export interface Entry {
  tableId: number;
  stage: string;
  uuid: string;
  text: string;
  stale?: boolean;
}
export interface Segment {
  pipeline: string;
  datapath: string;
  /** ovn-trace's egress header names the port it outputs to. */
  outport?: string;
  entries: Entry[];
}

/** ovn-trace --detailed's stages: `ingress(dp="sw0", inport="lsp1")` headers, ` 8. ls_in_acl (northd.c:1): match, priority 2001, uuid 0d1c9a2e`. */
export function simulatedSegments(output: string): Segment[] {
  const segs: Segment[] = [];
  for (const line of output.split('\n')) {
    const head = /^(ingress|egress)\(dp="([^"]*)"(?:, inport="[^"]*")?(?:, outport="([^"]*)")?/.exec(line.trim());
    if (head) {
      segs.push({ pipeline: head[1], datapath: head[2], ...(head[3] !== undefined ? { outport: head[3] } : {}), entries: [] });
      continue;
    }
    const st = /^\s*(\d+)\. (\S+)(?: \([^)]*\))?: (.*), priority (\d+), uuid ([0-9a-f]+)/.exec(line);
    if (st && segs.length) segs[segs.length - 1].entries.push({ tableId: Number(st[1]), stage: st[2], uuid: st[5], text: `${st[3]}, priority ${st[4]}` });
  }
  return segs;
}

/**
 * ovn-trace's pipelines in the order the cross-check compared them (its `pipelines`: a flood's copies
 * aligned with the live ones, src/cross-checks/fan-out.ts), each the first not taken with the same
 * pipeline, datapath and outport; then those it did not compare (copies run elsewhere), in text order.
 * In text order, pipeline i of the live path stood beside another copy than the one compared with it:
 * a tie or a divergence marked there showed ovn-trace's flow of another egress, or none.
 */
export function alignedSegments(sim: Segment[], compared: ReadonlyArray<{ pipeline: string; datapath: string | null; outport?: string | null }>): Array<Segment | undefined> {
  const left = [...sim];
  const take = (c: (typeof compared)[number]) => {
    const i = left.findIndex((s) => s.pipeline === c.pipeline && s.datapath === c.datapath && (c.outport == null || s.outport === c.outport));
    return i < 0 ? undefined : left.splice(i, 1)[0];
  };
  const out = compared.map(take);
  return out.some((s) => s === undefined) ? sim : [...out, ...left];
}

/** The live path's logical flows in order, cut into pipelines where the pipeline changes or the table goes back. */
export function liveSegments(passes: any[]): Segment[] {
  const segs: Segment[] = [];
  let cur: Segment | null = null;
  for (const p of passes)
    for (const s of p.steps ?? []) {
      const o = s.owners.find((x: any) => x.table === 'Logical_Flow' && x.pipeline);
      if (!o) continue;
      const last = cur?.entries[cur.entries.length - 1];
      if (last && last.uuid === o.uuid) continue;
      if (!cur || cur.pipeline !== o.pipeline || (last && o.tableId < last.tableId)) {
        cur = { pipeline: o.pipeline, datapath: (o.datapaths ?? []).map((d: any) => d.name).join(','), entries: [] };
        segs.push(cur);
      }
      cur.entries.push({ tableId: o.tableId, stage: o.stage ?? '?', uuid: o.uuid, text: `${o.match}, priority ${o.priority}`, stale: o.stale });
    }
  return segs;
}

/**
 * The parameters of a page address matched by `re`, decoded; undefined when it does not match or
 * a parameter is not valid percent-encoding (`/ui/ports/a%zz`: decodeURIComponent threw, and the
 * whole page was left blank instead of saying there is no such page).
 */
export function routeParams(re: RegExp, path: string): string[] | undefined {
  try {
    return re.exec(path)?.slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

/**
 * The API addresses an audit page reads. Its table and uuid are the page address's, decoded: each
 * is encoded again, or `/ui/logical-flows/..%2F..%2Ftrace-sessions%3F` sent the token to another route.
 */
export function auditSources(table: string | null, uuid: string): { flows: string; lflow: string | null } {
  const u = encodeURIComponent(uuid);
  return { flows: `${table ? `/northbound/${encodeURIComponent(table)}/${u}` : `/logical-flows/${u}`}/datapath-flows?limit=500`, lflow: table ? null : `/logical-flows/${u}` };
}
