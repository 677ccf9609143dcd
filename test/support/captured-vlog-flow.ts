// The first flow_add of a captured ovs-vswitchd log (OVS 3.5.0, userspace datapath, one ICMP echo
// through an allow-related ACL) as the vswitchd log source builds it, and a check's answer of that
// flow as dpctl/get-flow prints it: for unit specs of vlog-lifetimes.ts that drive it by hand.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckedItem } from '../../src/collectors/vlog-check-answer';
import { parseDumpLine } from '../../src/ovs/dump-flows';
import { VlogParser } from '../../src/ovs/vlog';
import type { InstalledFlow } from '../../src/upcalls';
import { versionDir } from './captured-model';

/** The flow, its log line's time, and `t(s)`: that time `s` seconds later (the times a spec's later lines and checks carry). */
export function capturedFlow(): { flow: InstalledFlow; time: string; t: (s: number) => string } {
  const p = new VlogParser();
  const lines = readFileSync(join(versionDir('ovs-3.5.0_ovn-25.03.0'), 'icmp-allow-related', 'vswitchd.log'), 'utf8').split('\n');
  const records = [...lines.flatMap((l) => p.pushLine(l).records), ...p.flush().records];
  for (const r of records) {
    const e = r.event;
    if (e?.type === 'flow_add' && e.parsedKey && e.ufid) {
      const time = r.timestamp;
      return { flow: { ufid: e.ufid, megaUfid: e.megaUfid, key: e.key, parsedKey: e.parsedKey, actions: e.actions ?? '', at: r.time }, time, t: (s) => new Date(Date.parse(time) + s * 1000).toISOString() };
    }
  }
  throw new Error('no flow_add in the capture');
}

/** A check of lifetime `id` that found `flow` installed at `at` (ms) with `packets` and `actions` (its own by default). */
export function foundInstalled(flow: InstalledFlow, id: number, packets: number, at: number, actions = flow.actions): CheckedItem {
  const line = `ufid:${flow.ufid}, ${flow.key}, packets:${packets}, bytes:${packets * 98}, used:0.500s, actions:${actions}`;
  return { kind: 'checked', id, ufid: flow.ufid, at, result: { state: 'present', flow: parseDumpLine(line) } };
}
