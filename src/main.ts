import 'reflect-metadata';
import { checkBind, createApp } from './bootstrap';
import { ConfigError, loadConfig } from './config/config';
import { checkStorePath } from './storage/store-path-check';

// EX_CONFIG from sysexits.h: the operator, not the code, has something to fix.
const EX_CONFIG = 78;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ovn-livetrace: ${err.message}\n`);
      process.exit(EX_CONFIG);
    }
    throw err;
  }
  const refusal = checkBind(config) ?? checkStorePath(config);
  if (refusal) {
    process.stderr.write(`ovn-livetrace: ${refusal}\n`);
    process.exit(EX_CONFIG);
  }
  const app = await createApp(config);
  await app.listen(config.LIVETRACE_PORT, config.LIVETRACE_HOST);
}

main().catch((err) => {
  process.stderr.write(`ovn-livetrace: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
