// The trace rows of migration ControllerKind (SQLite and PostgreSQL): for real captured passes of
// every pair, verdict_kinds and verdict as verdictJson writes them now, and as the code before it
// wrote them (no 'controller' in the kinds of a 'mixed' pass or a log copy; no `copy`).
import { verdictJson } from '../../src/traces/trace-record';
import { packetNodes, VERDICT_VERSIONS } from './verdict-fixtures';

export interface KindRow {
  name: string;
  now: { kinds: string; verdict: string };
  before: { kinds: string; verdict: string };
}

export function controllerKindRows(): KindRow[] {
  const rows: KindRow[] = [];
  for (const version of VERDICT_VERSIONS) {
    const passes = {
      'gateway-mtu': packetNodes(version, 'gateway-mtu').find((n) => /check_pkt_len\(size=\d+,gt\(userspace\(pid=\d+,controller\(/.test(n.installed))!,
      'acl-drop-logged': packetNodes(version, 'acl-drop-logged').find((n) => n.trace.verdict.kind !== 'recirculate')!,
      'unresolved-next-hop': packetNodes(version, 'unresolved-next-hop').find((n) => n.trace.verdict.kind === 'controller')!,
      'acl-drop': packetNodes(version, 'acl-drop').find((n) => n.trace.verdict.kind !== 'recirculate')!,
    };
    for (const [packet, n] of Object.entries(passes)) {
      const v = verdictJson(n.trace.verdict);
      const old = { ...v, kinds: n.trace.verdict.kind === 'controller' ? v.kinds : v.kinds.filter((k) => k !== 'controller') };
      if (old.controller) {
        const { copy: _copy, ...c } = old.controller;
        old.controller = c;
      }
      rows.push({
        name: `${version} ${packet}`,
        now: { kinds: `,${v.kinds.join(',')},`, verdict: JSON.stringify(v) },
        before: { kinds: `,${old.kinds.join(',')},`, verdict: JSON.stringify(old) },
      });
    }
  }
  return rows;
}
