// The order in which the tracer considers a batch of new datapath flows: every flow after those of
// its parents in the batch (along the recirculation edges), so a session that selects a packet's
// first pass selects its later passes with it, and a pass is recorded after the pass it continues
// and joins that pass's path. Recirc id numbers cannot give this order: ids are reused, and a
// later pass can recirculate into a frozen state created earlier, with a smaller id.
export function parentsFirst<F>(flows: readonly F[], parentsOf: (f: F) => readonly F[]): F[] {
  const among = new Set(flows);
  const out: F[] = [];
  const done = new Set<F>();
  const visiting = new Set<F>();
  const visit = (f: F) => {
    if (done.has(f) || visiting.has(f)) return; // a cycle in the data: the flow goes where it is reached
    visiting.add(f);
    for (const p of parentsOf(f)) if (among.has(p)) visit(p);
    visiting.delete(f);
    done.add(f);
    out.push(f);
  };
  for (const f of flows) visit(f);
  return out;
}
