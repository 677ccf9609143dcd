import { readFileSync } from 'node:fs';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig, parseEnvFile } from '../../../src/config/config';
import { CONFIG_SCHEMA } from '../../../src/config/config.schema';
import { roleConfig } from '../../../src/config/role';
import { configRemotes } from '../../../src/config/config.schema';
import { MIGRATION_LOCK_DEFAULTS, migrationLock } from '../../../src/storage/pg-migrate';
import { SQLITE_MIGRATION_WAIT_DEFAULT, sqliteMigrationWait } from '../../../src/storage/sqlite-migrate';

const base = { LIVETRACE_CONFIG_FILE: DEFAULT_CONFIG_FILE };

function errorOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig({ ...base, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('documents every key the service reads, and reads every documented key', () => {
    const documented = [...parseEnvFile(readFileSync(DEFAULT_CONFIG_FILE, 'utf8'), 'f').keys()].sort();
    expect(documented).toEqual(Object.keys(CONFIG_SCHEMA).sort());
  });

  it('gives the OVN-convention defaults, expanded from the rundirs', () => {
    const cfg = loadConfig(base);
    expect(cfg.OVS_RUNDIR).toBe('/var/run/openvswitch');
    expect(cfg.OVN_RUNDIR).toBe('/var/run/ovn');
    expect(cfg.OVS_DB).toBe('unix:/var/run/openvswitch/db.sock');
    expect(cfg.OVN_SB_DB).toBe('unix:/var/run/ovn/ovnsb_db.sock');
    expect(cfg.LIVETRACE_PORT).toBe(8470);
    expect(cfg.LIVETRACE_HOST).toBe('127.0.0.1');
    expect(cfg.LIVETRACE_LEADER_ONLY).toBe(false);
    expect(cfg.LIVETRACE_VSWITCHD_CTL).toBe('');
  });

  it("gives openPostgres's callers without a configuration (tests, benches) the documented migration lock defaults", () => {
    expect(migrationLock(loadConfig(base))).toEqual(MIGRATION_LOCK_DEFAULTS);
  });

  it("gives migrateStore's callers without a configuration (tests, benches) the documented SQLite migration wait", () => {
    expect(sqliteMigrationWait(loadConfig(base))).toEqual(SQLITE_MIGRATION_WAIT_DEFAULT);
  });

  it('lets the environment override any key, and references follow the override', () => {
    const cfg = loadConfig({ ...base, OVS_RUNDIR: '/tmp/sb', LIVETRACE_PORT: '9000', LIVETRACE_LEADER_ONLY: 'true' });
    expect(cfg.OVS_DB).toBe('unix:/tmp/sb/db.sock');
    expect(cfg.LIVETRACE_PORT).toBe(9000);
    expect(cfg.LIVETRACE_LEADER_ONLY).toBe(true);
  });

  it.each([
    ['LIVETRACE_PORT', 'eighty', /LIVETRACE_PORT="eighty": expected an integer between 1 and 65535/],
    ['LIVETRACE_PORT', '70000', /LIVETRACE_PORT="70000"/],
    ['LIVETRACE_LEADER_ONLY', 'maybe', /LIVETRACE_LEADER_ONLY="maybe": expected true or false/],
    ['OVN_SB_DB', 'tcp:127.0.0.1', /OVN_SB_DB="tcp:127.0.0.1": remote "tcp:127.0.0.1": expected HOST:PORT/],
    ['OVN_NB_DB', 'unix:/a.sock,,tcp:b:1', /OVN_NB_DB=.*comma-separated/],
    ['OVS_DB', 'http://x', /OVS_DB="http:\/\/x"/],
    ['LIVETRACE_LOG_LEVEL', 'loud', /LIVETRACE_LOG_LEVEL="loud": expected one of/],
    ['LIVETRACE_CHASSIS', 'hv 1; rm', /LIVETRACE_CHASSIS/],
    ['OVS_RUNDIR', '', /OVS_RUNDIR="": must not be empty/],
    // An empty override (a unit's LIVETRACE_POLLER= from an unset variable) silently turned the poller off.
    ['LIVETRACE_POLLER', '', /LIVETRACE_POLLER="": expected true or false/],
    ['LIVETRACE_LEADER_ONLY', '  ', /LIVETRACE_LEADER_ONLY="  ": expected true or false/],
    ['LIVETRACE_READ_WORKER_AUDITS', '', /LIVETRACE_READ_WORKER_AUDITS="": expected true or false/],
  ])('rejects %s=%j naming the key and the value', (key, value, message) => {
    const err = errorOf({ [key]: value });
    expect(err.key).toBe(key);
    expect(err.message).toMatch(message);
  });

  it('requires the TLS files when a remote is ssl:, naming the remote that needs them', () => {
    const err = errorOf({ OVN_SB_DB: 'ssl:127.0.0.1:6642' });
    expect(err.key).toBe('LIVETRACE_SSL_PRIVATE_KEY');
    expect(err.message).toMatch(/OVN_SB_DB uses an ssl: remote/);
    expect(errorOf({ LIVETRACE_SSL_CA_CERT: '/nonexistent/ca.pem' }).message).toMatch(/LIVETRACE_SSL_CA_CERT="\/nonexistent\/ca.pem": file does not exist/);
  });

  it('names a bad secret without printing it', () => {
    const err = errorOf({ LIVETRACE_API_TOKEN: 'short secret' });
    expect(err.message).toMatch(/LIVETRACE_API_TOKEN=<hidden>: expected 16 to 256 printable characters/);
    expect(err.message).not.toContain('short secret');
  });

  // Operators bound a hypervisor's store by the disk it may take, in MB (0, the default: no bound).
  it('reads LIVETRACE_RETENTION_MAX_MB as whole MB, 0 by default, and an api instance never prunes by it', () => {
    expect(loadConfig(base).LIVETRACE_RETENTION_MAX_MB).toBe(0);
    expect(loadConfig({ ...base, LIVETRACE_RETENTION_MAX_MB: '2048' }).LIVETRACE_RETENTION_MAX_MB).toBe(2048);
    expect(roleConfig(loadConfig({ ...base, LIVETRACE_RETENTION_MAX_MB: '2048', LIVETRACE_ROLE: 'api' })).LIVETRACE_RETENTION_MAX_MB).toBe(0);
  });

  it.each(['-1', '2GB', '1.5', '', '16777217'])('rejects LIVETRACE_RETENTION_MAX_MB=%j naming the key', (value) => {
    const err = errorOf({ LIVETRACE_RETENTION_MAX_MB: value });
    expect(err.key).toBe('LIVETRACE_RETENTION_MAX_MB');
    expect(err.message).toMatch(/expected an integer between 0 and 16777216/);
  });

  it('names an unknown reference and a malformed file line', () => {
    expect(() => parseEnvFile('A=1\nnot a line\n', 'x.env')).toThrow(/x.env:2/);
  });
});

describe('OVSDB remotes', () => {
  it.each([
    ['unix:/run/ovn/ovnsb_db.sock', [{ kind: 'unix', path: '/run/ovn/ovnsb_db.sock' }]],
    ['tcp:10.0.0.1:6642,ssl:[fd00::1]:6642', [{ kind: 'tcp', host: '10.0.0.1', port: 6642 }, { kind: 'ssl', host: 'fd00::1', port: 6642 }]],
  ])('parses %s', (text, expected) => {
    expect(configRemotes(text)).toMatchObject(expected);
  });
});
