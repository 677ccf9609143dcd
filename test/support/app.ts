// Starting the service for e2e tests: in-process (supertest) or as a real child process; on a fresh
// sandbox with the demo topology (startDemoApp), or with no OVS/OVN daemon at all (daemonlessApp).
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { createApp } from '../../src/bootstrap';
import { loadConfig } from '../../src/config/config';
import { LivetraceConfig } from '../../src/config/config.schema';
import { Sandbox } from './sandbox';
import { waitFor } from './wait';

export const ROOT = resolve(__dirname, '../..');
/** `node -r` this: the processes the tests start compile our .ts as jest does (test/support/swc-register.js). */
export const SWC_REGISTER = join(__dirname, 'swc-register.js');

export function testConfig(env: Record<string, string> = {}): LivetraceConfig {
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-app-'));
  return loadConfig({ LIVETRACE_DB: join(dir, 'livetrace.sqlite'), LIVETRACE_SPOOL: join(dir, 'spool.sqlite'), LIVETRACE_LOG_LEVEL: 'warn', ...env });
}

export async function startApp(env: Record<string, string> = {}): Promise<INestApplication> {
  const app = await createApp(testConfig(env));
  await app.init();
  return app;
}

/**
 * The env of a service with no OVS/OVN daemon (its run directories an empty folder: no socket to
 * reach, the "ovs-vswitchd is down" case) and no poller: the HTTP API alone over its own store.
 */
export function daemonlessEnv(env: Record<string, string> = {}): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-nodaemons-'));
  return { OVS_RUNDIR: dir, OVN_RUNDIR: dir, LIVETRACE_POLLER: 'false', ...env };
}

export interface DaemonlessApp {
  app: INestApplication;
  /** http://127.0.0.1:port, for fetch (streams, bodies sent a piece at a time). */
  base: string;
  http: ReturnType<typeof request>;
  close: () => Promise<void>;
}

/** That service in process (`env` adds to daemonlessEnv's), listening on a loopback port of the kernel's choice. */
export async function daemonlessApp(env: Record<string, string> = {}): Promise<DaemonlessApp> {
  const app = await startApp(daemonlessEnv(env));
  try {
    await app.listen(0, '127.0.0.1');
  } catch (e) {
    await app.close();
    throw e;
  }
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  return { app, base, http: request(app.getHttpServer()), close: () => app.close() };
}

/**
 * `start()`ed in a beforeAll and closed in an afterAll of the describe it is called in: its fields
 * are set once that beforeAll has run (a beforeAll the spec declares after this call sees them).
 */
export function startedForAll<T extends { close: () => Promise<unknown> }>(start: () => Promise<T>): T {
  const started = {} as T;
  beforeAll(async () => {
    Object.assign(started, await start());
  });
  afterAll(() => started.close?.());
  return started;
}

/** daemonlessApp for the tests of one describe. */
export const useDaemonlessApp = (env: Record<string, string> = {}): DaemonlessApp => startedForAll(() => daemonlessApp(env));

/**
 * A fresh sandbox with the demo topology (scripts/ovn-sandbox demo-topology) and the service in
 * process on it (`env` adds to the sandbox's), healthy: what the e2e specs of that topology start
 * from. What it started is stopped again if a step fails, since the caller's afterAll never sees it.
 */
export async function startDemoApp(env: Record<string, string> = {}): Promise<{ sb: Sandbox; app: INestApplication; http: ReturnType<typeof request> }> {
  const sb = await Sandbox.start();
  let app: INestApplication | undefined;
  try {
    await sb.demoTopology();
    app = await startApp({ ...sb.env, ...env });
    const http = request(app.getHttpServer());
    await waitFor('healthy', async () => (await http.get('/health')).status === 200, 60_000);
    return { sb, app, http };
  } catch (e) {
    await app?.close();
    await sb.stop();
    throw e;
  }
}

export interface Child {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The service's own entry point (src/main.ts) as a process, the way an operator runs it.
 * `modesApply`: file modes keep it out as they keep out an unprivileged service. Root's own
 * capabilities to pass them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) are dropped with setpriv
 * (util-linux) rather than switching to another user: the work tree may sit in a folder only root
 * can read (the Node matrix's copy is a mktemp 0700 folder), which root still reads as its owner.
 */
export function spawnService(env: Record<string, string>, opts: { modesApply?: boolean } = {}): Child {
  const node = [process.execPath, '-r', SWC_REGISTER, 'src/main.ts'];
  const dropped = opts.modesApply && process.getuid?.() === 0;
  const caps = '-dac_override,-dac_read_search';
  const [cmd, ...args] = dropped ? ['setpriv', '--bounding-set', caps, '--inh-caps', caps, ...node] : node;
  const proc = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  return { proc, stdout: () => out, stderr: () => err, exit };
}
