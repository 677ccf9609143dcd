import { LineError, OvsParseError } from './parse-error';

/**
 * `ovs-appctl dpif/show`: datapaths, their bridges, and each port's OpenFlow and datapath numbers.
 *
 *   system@ovs-system: hit:0 missed:0
 *     br-int:
 *       br-int 65534/1: (dummy-internal)
 *       vif1 1/2: (dummy)
 *       patch-br-int-to-ln-public 6/none: (patch: peer=patch-ln-public-to-br-int)
 *
 * This is how a datapath flow's `in_port(2)` / `actions:3` become port names.
 */

/** OpenFlow's number of a bridge's LOCAL port (OFPP_LOCAL): the port named as the bridge. */
export const OFPP_LOCAL = 65534;

export interface DpifPort {
  readonly name: string;
  /** OpenFlow port number (65534 is the bridge's LOCAL port). */
  readonly ofport: number;
  /** Datapath port number; null for `none` (patch ports live only in OpenFlow). */
  readonly odpPort: number | null;
  /** Netdev type: `system`, `internal`, `dummy`, `geneve`, `patch`, … */
  readonly type: string;
  /** Configuration text after the type (`peer=…`, `remote_ip=…, key=flow`), if printed. */
  readonly config?: string;
}

export interface DpifBridge {
  readonly name: string;
  readonly ports: DpifPort[];
}

export interface DpifDatapath {
  /** `system@ovs-system`, `netdev@ovs-netdev`, `dummy@ovs-dummy`. */
  readonly name: string;
  readonly type: string;
  readonly hit: number;
  readonly missed: number;
  readonly bridges: DpifBridge[];
}

export interface DpifShow {
  readonly datapaths: DpifDatapath[];
  readonly errors: LineError[];
}

const WHAT = 'dpif/show line';

export function parseDpifShow(text: string): DpifShow {
  const datapaths: DpifDatapath[] = [];
  const errors: LineError[] = [];
  let dp: DpifDatapath | undefined;
  let bridge: DpifBridge | undefined;
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].replace(/\r$/, '');
    if (line.trim() === '') continue;
    try {
      const indent = line.length - line.trimStart().length;
      const body = line.trim();
      if (indent === 0) {
        dp = parseDatapathLine(line);
        bridge = undefined;
        datapaths.push(dp);
      } else if (body.endsWith(':') && !body.includes(' ')) {
        if (!dp) throw new OvsParseError(WHAT, line, 0, 'bridge before any datapath');
        bridge = { name: body.slice(0, -1), ports: [] };
        dp.bridges.push(bridge);
      } else {
        if (!bridge) throw new OvsParseError(WHAT, line, indent, 'port before any bridge');
        bridge.ports.push(parsePortLine(line, indent));
      }
    } catch (e) {
      if (!(e instanceof OvsParseError)) throw e;
      errors.push({ line: n + 1, text: line, error: e });
    }
  }
  return { datapaths, errors };
}

function parseDatapathLine(line: string): DpifDatapath {
  const m = /^(([^@\s]+)@[^:\s]+): hit:(\d+) missed:(\d+)\s*$/.exec(line);
  if (!m) throw new OvsParseError(WHAT, line, 0, "expected '<type>@<name>: hit:N missed:N'");
  return { name: m[1], type: m[2], hit: Number(m[3]), missed: Number(m[4]), bridges: [] };
}

function parsePortLine(line: string, indent: number): DpifPort {
  const m = /^(\S+) (\d+)\/(\d+|none):(?: \(([^:)]+)(?:: (.*))?\))?\s*$/.exec(line.slice(indent));
  if (!m) throw new OvsParseError(WHAT, line, indent, "expected '<port> <ofport>/<dp port>: (<type>)'");
  const port: DpifPort = {
    name: m[1],
    ofport: Number(m[2]),
    odpPort: m[3] === 'none' ? null : Number(m[3]),
    type: m[4] ?? 'system',
  };
  return m[5] !== undefined ? { ...port, config: m[5] } : port;
}

/** Port names by datapath port number, for one datapath (`in_port(2)` → `vif1`). */
export function portNamesByNumber(dp: DpifDatapath): Map<number, string> {
  const out = new Map<number, string>();
  for (const b of dp.bridges) for (const p of b.ports) if (p.odpPort !== null) out.set(p.odpPort, p.name);
  return out;
}

/** Datapath port numbers by port name, for one datapath (`vif2` → 3). */
export function portNumbersByName(dp: DpifDatapath): Map<string, number> {
  const out = new Map<string, number>();
  for (const b of dp.bridges) for (const p of b.ports) if (p.odpPort !== null) out.set(p.name, p.odpPort);
  return out;
}

export function formatDpifShow(show: Pick<DpifShow, 'datapaths'>): string {
  let out = '';
  for (const dp of show.datapaths) {
    out += `${dp.name}: hit:${dp.hit} missed:${dp.missed}\n`;
    for (const b of dp.bridges) {
      out += `  ${b.name}:\n`;
      for (const p of b.ports) {
        const cfg = p.config !== undefined ? `: ${p.config}` : '';
        out += `    ${p.name} ${p.ofport}/${p.odpPort ?? 'none'}: (${p.type}${cfg})\n`;
      }
    }
  }
  return out;
}
