/**
 * A stand-in ovs-vswitchd for the sizes the dummy datapath cannot hold (its tables stop at 65,536
 * flows): it speaks unixctl (JSON-RPC 1.0 on a Unix socket, one request at a time) and answers
 * `dpctl/dump-flows` with a replayed dump made of the real captured lines, so that VswitchdService,
 * PollerService, the parser, the diff and the writer all run unchanged. Between dumps the counters
 * of a share of the flows grow (steady cycles then carry ukey_updated events, as under traffic).
 * The next reply is built right after one is sent, so answering is a plain socket write.
 *
 * Usage: fake-vswitchd.ts SOCKET FLOWS [UPDATE_SHARE=0.1]   (prints "ready" when listening)
 */
import { existsSync, unlinkSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { replayLines } from './common';

const [socketPath, flowsArg, shareArg] = process.argv.slice(2);
const flows = Number(flowsArg);
const share = Number(shareArg ?? 0.1);
const { header, pmdHeader, lines } = replayLines(flows);
const every = share > 0 ? Math.max(1, Math.round(1 / share)) : 0;
let dumps = 0;

function bump(): void {
  if (!every) return;
  const phase = dumps % every;
  for (let i = phase; i < lines.length; i += every) {
    lines[i] = lines[i].replace(/packets:(\d+), bytes:(\d+), used:[^,]+,/, (_, p, b) => `packets:${Number(p) + 1}, bytes:${Number(b) + 64}, used:0.100s,`);
  }
}

function buildDump(): string {
  const half = lines.length >> 1;
  return `${header}\n${lines.slice(0, half).join('\n')}\n${pmdHeader}\n${lines.slice(half).join('\n')}\n`;
}

let nextDump = buildDump();

function answer(method: string): { result: string | null; error: string | null } {
  switch (method) {
    case 'list-commands':
      return { result: 'The available commands are:\n  dpctl/dump-flows [-m] [--names] [dp] [filter=..]\n  list-commands\n  version\n', error: null };
    case 'version':
      return { result: 'ovs-vswitchd (Open vSwitch) 3.1.0 (bench/live replay)\n', error: null };
    case 'dpctl/dump-flows':
      return { result: nextDump, error: null };
    default:
      return { result: null, error: `"${method}" is not a valid command (bench/live replay)` };
  }
}

if (existsSync(socketPath)) unlinkSync(socketPath);
const server = createServer((socket: Socket) => {
  let buffer = '';
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    buffer += chunk.toString('utf8');
    // Requests are small flat objects: split at each top-level closing brace outside strings.
    for (;;) {
      const end = objectEnd(buffer);
      if (end < 0) break;
      const msg = JSON.parse(buffer.slice(0, end + 1)) as { method: string; id: unknown };
      buffer = buffer.slice(end + 1).trimStart();
      const reply = answer(msg.method);
      socket.write(JSON.stringify({ ...reply, id: msg.id ?? null }));
      if (msg.method === 'dpctl/dump-flows') {
        dumps++;
        setImmediate(() => {
          bump();
          nextDump = buildDump();
        });
      }
    }
  });
});
server.listen(socketPath, () => process.stdout.write(`ready ${flows} flows\n`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

function objectEnd(s: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) return i;
  }
  return -1;
}
