// OVSDB remote strings as the OVS tools take them: unix:PATH, tcp:HOST:PORT, ssl:HOST:PORT,
// comma-separated for clusters; IPv6 hosts in brackets.
import { ConfigValueError } from './config.schema';

export type Remote =
  | { kind: 'unix'; path: string; text: string }
  | { kind: 'tcp' | 'ssl'; host: string; port: number; text: string };

export function parseRemote(text: string): Remote {
  const t = text.trim();
  const colon = t.indexOf(':');
  const kind = colon < 0 ? '' : t.slice(0, colon);
  const rest = t.slice(colon + 1);
  if (kind === 'unix') {
    if (!rest) throw new ConfigValueError(`remote "${t}": unix: needs a socket path`);
    return { kind, path: rest, text: t };
  }
  if (kind === 'tcp' || kind === 'ssl') {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d+)$/.exec(rest);
    if (!m) throw new ConfigValueError(`remote "${t}": expected ${kind}:HOST:PORT`);
    const port = Number(m[3]);
    if (port < 1 || port > 65535) throw new ConfigValueError(`remote "${t}": port ${m[3]} out of range`);
    return { kind, host: m[1] ?? m[2], port, text: t };
  }
  throw new ConfigValueError(`remote "${t}": expected unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT`);
}

export function parseRemotes(list: string): Remote[] {
  const parts = list.split(',').map((s) => s.trim());
  if (!list.trim() || parts.some((p) => !p)) throw new ConfigValueError('expected one or more comma-separated remotes');
  return parts.map(parseRemote);
}
