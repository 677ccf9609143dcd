// trace.final_flow as stored: what differs from the flow (the write, trace-store.ts; the read,
// trace-read-store.ts).
/**
 * The final flow is the flow plus the registers the pipeline set: stored as what differs from
 * the flow (a marker, shared prefix length, shared suffix length, middle), ~250 bytes less per
 * trace. The marker is U+0001: PostgreSQL's text cannot hold NUL, the marker rows stored before
 * had (issue 19); both are read. Neither starts a flow ovs-vswitchd prints.
 */
const PACKED = 1;
const PACKED_BEFORE = 0;

export function packFinalFlow(flow: string, final: string): string {
  const max = Math.min(flow.length, final.length);
  let p = 0;
  while (p < max && flow.charCodeAt(p) === final.charCodeAt(p)) p++;
  let q = 0;
  while (q < max - p && flow.charCodeAt(flow.length - 1 - q) === final.charCodeAt(final.length - 1 - q)) q++;
  if (p + q < 32) return final;
  return `${String.fromCharCode(PACKED)}${p},${q},${final.slice(p, final.length - q)}`;
}

export function unpackFinalFlow(flow: string, stored: string): string {
  const mark = stored.charCodeAt(0);
  if (mark !== PACKED && mark !== PACKED_BEFORE) return stored;
  const a = stored.indexOf(',');
  const b = stored.indexOf(',', a + 1);
  const p = Number(stored.slice(1, a));
  const q = Number(stored.slice(a + 1, b));
  return flow.slice(0, p) + stored.slice(b + 1) + flow.slice(flow.length - q);
}
