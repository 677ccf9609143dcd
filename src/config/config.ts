// Loads config/livetrace.env (or LIVETRACE_CONFIG_FILE), overlays the environment, expands
// ${KEY} references and validates every key. Any problem is a ConfigError that names the key
// and the value, so a bad deployment stops at once with a message an operator can act on.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CONFIG_SCHEMA, ConfigKey, ConfigValueError, configRemotes, LivetraceConfig } from './config.schema';

export const DEFAULT_CONFIG_FILE = resolve(__dirname, '../../config/livetrace.env');
// nest build puts this file in dist/src/config: look one level further up too.
const FALLBACK_CONFIG_FILE = resolve(__dirname, '../../../config/livetrace.env');

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: string,
    reason: string,
  ) {
    // A secret is named, never printed: the message ends up in logs.
    super(`invalid configuration: ${key}=${/TOKEN|PASSWORD|SECRET/.test(key) ? '<hidden>' : JSON.stringify(value)}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/** KEY=VALUE lines; `#` comments and blank lines skipped. Values are taken literally. */
export function parseEnvFile(text: string, file: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith('#')) return;
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(t);
    if (!m) throw new ConfigError(`${file}:${i + 1}`, t, 'expected KEY=VALUE');
    out.set(m[1], m[2]);
  });
  return out;
}

function expand(key: string, raw: string, lookup: (k: string) => string | undefined, depth = 0): string {
  return raw.replace(/\$\{([A-Z][A-Z0-9_]*)\}/g, (_, ref: string) => {
    const v = lookup(ref);
    if (v === undefined) throw new ConfigError(key, raw, `refers to unknown key \${${ref}}`);
    if (depth > 8) throw new ConfigError(key, raw, 'references nest too deep (a cycle?)');
    return expand(ref, v, lookup, depth + 1);
  });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): LivetraceConfig {
  const file = env.LIVETRACE_CONFIG_FILE || (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : FALLBACK_CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('LIVETRACE_CONFIG_FILE', file, `cannot read: ${(err as Error).message}`);
  }
  const defaults = parseEnvFile(text, file);
  const keys = Object.keys(CONFIG_SCHEMA) as ConfigKey[];
  for (const k of defaults.keys()) {
    if (!(k in CONFIG_SCHEMA)) throw new ConfigError(`${file}: ${k}`, defaults.get(k)!, 'unknown key');
  }
  const rawOf = (k: string): string | undefined => env[k] ?? defaults.get(k);
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const raw = rawOf(key);
    if (raw === undefined) throw new ConfigError(key, '', `missing from ${file}`);
    const value = expand(key, raw, rawOf);
    try {
      out[key] = CONFIG_SCHEMA[key](value);
    } catch (err) {
      if (err instanceof ConfigValueError) throw new ConfigError(key, value, err.message);
      throw err;
    }
  }
  const cfg = out as LivetraceConfig;
  checkTls(cfg);
  return cfg;
}

function checkTls(cfg: LivetraceConfig): void {
  const tlsKeys = ['LIVETRACE_SSL_PRIVATE_KEY', 'LIVETRACE_SSL_CERTIFICATE', 'LIVETRACE_SSL_CA_CERT'] as const;
  const sslUsedBy = (['OVN_NB_DB', 'OVN_SB_DB', 'OVS_DB'] as const).find((k) => configRemotes(cfg[k]).some((r) => r.kind === 'ssl'));
  for (const k of tlsKeys) {
    const path = cfg[k];
    if (!path && sslUsedBy) throw new ConfigError(k, '', `required because ${sslUsedBy} uses an ssl: remote`);
    if (path && !existsSync(path)) throw new ConfigError(k, path, 'file does not exist');
  }
}
