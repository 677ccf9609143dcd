// Starting the service for e2e tests: in-process (supertest) or as a real child process; on a fresh
// sandbox with the demo topology (startDemoApp).
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
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

/** The service's own entry point (src/main.ts) as a process, the way an operator runs it. */
export function spawnService(env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
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
