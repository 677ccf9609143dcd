// Starting the service for e2e tests: in-process (supertest) or as a real child process.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { INestApplication } from '@nestjs/common';
import { createApp } from '../../src/bootstrap';
import { loadConfig } from '../../src/config/config';
import { LivetraceConfig } from '../../src/config/config.schema';

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
