// The logical ports one pass sees, from the registers OVN's physical tables use: `metadata` is the
// logical datapath's tunnel_key, `reg14` the logical inport's, `reg15` the logical outport's. The
// pass is walked in order (matches, then set_field actions), so a packet crossing a patch port
// from a switch into a router is seen with each datapath's own ports.
import type { TraceStep } from '../ovs/trace-tree';
import type { OvnModel } from '../ovn/ovn-model';
import type { PortRole, TracePort } from './types';

const MATCH_REG = /(?:^|,)(metadata|reg14|reg15)=(0x[0-9a-f]+|\d+)(?=,|$)/g;
const SET_REG = /^set_field:(0x[0-9a-f]+|\d+)->(metadata|reg14|reg15)$/;
const FLOW_REG = /(?:^|,)(metadata|reg14|reg15|tun_id|tun_src|tun_metadata0)=([0-9a-fx.:]+)(?=,|$)/g;

export interface PortCollector {
  readonly ports: TracePort[];
  /** Last (datapath key, reg15) seen: where the pipeline was sending the packet. */
  lastOutport: TracePort | null;
}

export function collectPassPorts(flowLine: string, steps: readonly TraceStep[], model: OvnModel): PortCollector {
  const seen = new Set<string>();
  const c: PortCollector = { ports: [], lastOutport: null };
  let meta = 0;
  const add = (dpKey: number, portKey: number, role: PortRole, via: string, chassis?: string | null): TracePort | null => {
    if (!dpKey || !portKey) return null;
    const p = model.portByKeys(dpKey, portKey);
    if (!p) return null;
    const id = `${role}\0${p.logicalPort}`;
    const port: TracePort = {
      logicalPort: p.logicalPort,
      portBindingUuid: p.portBindingUuid,
      datapath: p.datapath?.name ?? null,
      role,
      chassis: chassis !== undefined ? chassis : p.chassis,
      via,
      scope: 'pass',
    };
    if (!seen.has(id)) {
      seen.add(id);
      c.ports.push(port);
    }
    return port;
  };

  // A recirculated pass resumes with the registers its Flow line shows; a tunnelled packet names
  // its datapath (VNI) and ports (geneve option: 15-bit inport, 16-bit outport).
  const flow: Record<string, string> = {};
  for (const m of flowLine.matchAll(FLOW_REG)) flow[m[1]] = m[2];
  if (flow.metadata) meta = Number(flow.metadata);
  if (flow.tun_id && flow.tun_metadata0) {
    const vni = Number(flow.tun_id);
    const opt = Number(flow.tun_metadata0);
    const chassis = flow.tun_src ? model.chassisByIp(flow.tun_src) : null;
    add(vni, (opt >>> 16) & 0x7fff, 'tunnel_in', 'tun_metadata0', chassis);
    const out = add(vni, opt & 0xffff, 'outport', 'tun_metadata0');
    if (out) c.lastOutport = out;
  }
  if (flow.reg14) add(meta, Number(flow.reg14), 'inport', 'reg14');
  if (flow.reg15) {
    const out = add(meta, Number(flow.reg15), 'outport', 'reg15');
    if (out) c.lastOutport = out;
  }

  for (const s of steps) {
    if (s.outcome !== 'match') continue;
    let reg14 = 0;
    let reg15 = 0;
    for (const m of s.match.matchAll(MATCH_REG)) {
      if (m[1] === 'metadata') meta = Number(m[2]);
      else if (m[1] === 'reg14') reg14 = Number(m[2]);
      else reg15 = Number(m[2]);
    }
    if (reg14) add(meta, reg14, 'inport', 'reg14');
    if (reg15) {
      const out = add(meta, reg15, 'outport', 'reg15');
      if (out) c.lastOutport = out;
    }
    for (const item of s.items) {
      if (item.kind !== 'action' || item.text.charCodeAt(0) !== 115 /* s */) continue;
      const m = SET_REG.exec(item.text);
      if (!m) continue;
      const v = Number(m[1]);
      if (m[2] === 'metadata') meta = v;
      else if (m[2] === 'reg14') add(meta, v, 'inport', 'reg14');
      else {
        const out = add(meta, v, 'outport', 'reg15');
        if (out) c.lastOutport = out;
      }
    }
  }
  return c;
}
