// The logical ports one pass sees, from the registers OVN's physical tables use: `metadata` is the
// logical datapath's tunnel_key, `reg14` the logical inport's, `reg15` the logical outport's. The
// pass is walked in order (matches, then set_field actions), so a packet crossing a patch port
// from a switch into a router is seen with each datapath's own ports.
import type { TraceStep } from '../ovs/trace-tree';
import { tunnelMatch, type TunnelMatch } from '../ovs/odp-tunnel';
import type { OvnModel } from '../ovn/ovn-model';
import type { PortRole, TracePort } from './types';

const FLOW_FIELDS = ['metadata', 'reg14', 'reg15', 'tun_id', 'tun_src', 'tun_metadata0'] as const;

/**
 * The unmasked value of `name=` in an OpenFlow match/flow text (`…,reg14=0x1,…`), or undefined
 * (absent or masked). Plain indexOf scanning: this runs for every step of every trace.
 */
export function fieldValue(text: string, name: string): string | undefined {
  let at = text.indexOf(name + '=');
  while (at >= 0) {
    if (at === 0 || text.charCodeAt(at - 1) === 44 /* , */) {
      const start = at + name.length + 1;
      let end = text.indexOf(',', start);
      if (end < 0) end = text.length;
      const v = text.slice(start, end);
      return v.includes('/') ? undefined : v;
    }
    at = text.indexOf(name + '=', at + 1);
  }
  return undefined;
}

const SET_TARGETS = ['->metadata', '->reg14', '->reg15'] as const;

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
  const flow: Partial<Record<(typeof FLOW_FIELDS)[number], string>> = {};
  for (const f of FLOW_FIELDS) {
    const v = fieldValue(flowLine, f);
    if (v !== undefined) flow[f] = v;
  }
  if (flow.metadata) meta = Number(flow.metadata);
  if (flow.tun_id && flow.tun_metadata0) {
    const vni = Number(flow.tun_id);
    const opt = Number(flow.tun_metadata0);
    const chassis = flow.tun_src ? model.chassisByIp(flow.tun_src) : null;
    add(vni, (opt >>> 16) & 0x7fff, 'tunnel_in', 'tun_metadata0', chassis);
    const out = add(vni, opt & 0xffff, 'outport', 'tun_metadata0');
    if (out) c.lastOutport = out;
  }
  // A pass known by its rules (ofproto/detrace) has the datapath key for a flow: its tunnel is
  // `tunnel(tun_id=…,src=…,geneve({class=0x102,type=0x80,len=4,0xIIIIEEEE/…}))`, and table 0 only moves
  // the option into reg14/reg15, so no rule names the ports.
  else if (!flow.tun_id && flowLine.includes('tunnel(')) {
    const m = keyTunnel(flowLine);
    if (m?.ovn) {
      const vni = Number(BigInt(m.vni) & 0xffffffn);
      add(vni, m.ovn.ingress, 'tunnel_in', 'tun_metadata0', m.src ? model.chassisByIp(m.src) : null);
      const out = add(vni, m.ovn.egress, 'outport', 'tun_metadata0');
      if (out) c.lastOutport = out;
    }
  }
  if (flow.reg14) add(meta, Number(flow.reg14), 'inport', 'reg14');
  if (flow.reg15) {
    const out = add(meta, Number(flow.reg15), 'outport', 'reg15');
    if (out) c.lastOutport = out;
  }

  for (const s of steps) {
    if (s.outcome !== 'match') continue;
    const match = s.match;
    if (match.includes('metadata=')) {
      const m = fieldValue(match, 'metadata');
      if (m !== undefined) meta = Number(m);
    }
    if (match.includes('reg14=')) {
      const v = fieldValue(match, 'reg14');
      if (v !== undefined) add(meta, Number(v), 'inport', 'reg14');
    }
    if (match.includes('reg15=')) {
      const v = fieldValue(match, 'reg15');
      const out = v !== undefined ? add(meta, Number(v), 'outport', 'reg15') : null;
      if (out) c.lastOutport = out;
    }
    for (const item of s.items) {
      const text = item.text;
      if (item.kind !== 'action' || !text.startsWith('set_field:')) continue;
      const target = SET_TARGETS.find((t) => text.endsWith(t));
      if (!target) continue;
      const v = Number(text.slice('set_field:'.length, text.length - target.length));
      if (Number.isNaN(v)) continue; // a masked set (`0x1/0x1`) is not a port key
      if (target === '->metadata') meta = v;
      else if (target === '->reg14') add(meta, v, 'inport', 'reg14');
      else {
        const out = add(meta, v, 'outport', 'reg15');
        if (out) c.lastOutport = out;
      }
    }
  }
  return c;
}

/** The tunnel of a datapath key; undefined when it has none or it cannot be read (the ports are then unknown, not an error). */
function keyTunnel(key: string): TunnelMatch | undefined {
  try {
    return tunnelMatch(key);
  } catch {
    return undefined;
  }
}
