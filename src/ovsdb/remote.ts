// OVS remote strings (unix:PATH, tcp:HOST:PORT, ssl:HOST:PORT, comma-separated lists) and how to
// open a byte stream to one of them.
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { ConnectError } from './errors';

export type Remote =
  | { kind: 'unix'; path: string; text: string }
  | { kind: 'tcp' | 'ssl'; host: string; port: number; text: string };

export class RemoteSyntaxError extends Error {
  constructor(
    readonly input: string,
    readonly detail: string,
  ) {
    super(`invalid OVSDB remote "${input}": ${detail}`);
    this.name = 'RemoteSyntaxError';
  }
}

/** Parses one remote. IPv6 hosts are bracketed: `tcp:[::1]:6641`. */
export function parseRemote(input: string): Remote {
  const text = input.trim();
  const colon = text.indexOf(':');
  if (colon < 0) throw new RemoteSyntaxError(input, 'expected unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT');
  const scheme = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  if (scheme === 'unix') {
    if (!rest) throw new RemoteSyntaxError(input, 'empty socket path');
    return { kind: 'unix', path: rest, text };
  }
  if (scheme !== 'tcp' && scheme !== 'ssl') {
    throw new RemoteSyntaxError(input, `unsupported method "${scheme}" (a client connects with unix:, tcp: or ssl:)`);
  }
  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw new RemoteSyntaxError(input, 'unterminated "[" in IPv6 address');
    host = rest.slice(1, close);
    if (rest[close + 1] !== ':') throw new RemoteSyntaxError(input, 'expected ":PORT" after the IPv6 address');
    portText = rest.slice(close + 2);
  } else {
    const last = rest.lastIndexOf(':');
    if (last < 0) throw new RemoteSyntaxError(input, 'expected HOST:PORT');
    host = rest.slice(0, last);
    portText = rest.slice(last + 1);
    if (host.includes(':')) throw new RemoteSyntaxError(input, 'an IPv6 address must be bracketed, e.g. tcp:[::1]:6641');
  }
  if (!host) throw new RemoteSyntaxError(input, 'empty host');
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw new RemoteSyntaxError(input, `invalid port "${portText}"`);
  }
  return { kind: scheme, host, port: Number(portText), text };
}

/** Parses a comma-separated list, as OVN_NB_DB / OVN_SB_DB are written. */
export function parseRemotes(input: string | readonly string[]): Remote[] {
  const items = typeof input === 'string' ? input.split(',') : input.flatMap((s) => s.split(','));
  const remotes = items.map((s) => s.trim()).filter((s) => s.length > 0).map(parseRemote);
  if (remotes.length === 0) throw new RemoteSyntaxError(String(input), 'no remote given');
  return remotes;
}

/** File paths of the TLS material, as given to OVS tools with -p / -c / -C. */
export interface TlsFiles {
  privateKey: string;
  certificate: string;
  caCert: string;
}

export interface ConnectOptions {
  tls?: TlsFiles;
  /** Give up on a connection attempt after this long. Default 10 s. */
  connectTimeoutMs?: number;
}

function tlsOptions(files: TlsFiles, remote: { host: string; port: number }): tls.ConnectionOptions {
  return {
    host: remote.host,
    port: remote.port,
    key: readFileSync(files.privateKey),
    cert: readFileSync(files.certificate),
    ca: readFileSync(files.caCert),
    // The CA chain is verified (rejectUnauthorized stays true), but not the host name: OVS
    // itself never checks it, and certificates made by ovs-pki carry a CN like
    // "ovsclient id:…" and no subjectAltName, so Node's default host check would reject every
    // OVN deployment. Trust comes from the CA, exactly as in stream-ssl.c.
    checkServerIdentity: () => undefined,
    servername: net.isIP(remote.host) ? undefined : remote.host,
  };
}

/** Opens a stream to one remote; resolves once connected (and, for ssl:, once the handshake is done). */
export function connectRemote(remote: Remote, options: ConnectOptions = {}): Promise<Duplex> {
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    const readyEvent = remote.kind === 'ssl' ? 'secureConnect' : 'connect';
    try {
      if (remote.kind === 'unix') {
        socket = net.connect({ path: remote.path });
      } else if (remote.kind === 'tcp') {
        socket = net.connect({ host: remote.host, port: remote.port });
      } else {
        if (!options.tls) throw new Error('ssl: remote needs a private key, certificate and CA certificate');
        socket = tls.connect(tlsOptions(options.tls, remote));
      }
    } catch (err) {
      reject(new ConnectError({ remote: remote.text }, (err as Error).message, { cause: err }));
      return;
    }
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectError({ remote: remote.text }, `timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new ConnectError({ remote: remote.text }, err.message, { cause: err }));
    };
    socket.once('error', onError);
    socket.once(readyEvent, () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      if (remote.kind !== 'unix') socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/** The OVS default inactivity probe: 5 s on TCP and TLS, none on Unix sockets. */
export function defaultProbeIntervalMs(remote: Remote): number {
  return remote.kind === 'unix' ? 0 : 5000;
}
