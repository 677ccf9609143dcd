// Integration and e2e suites run against one OVS/OVN pair at a time (scripts/ovn-root pairs):
// LIVETRACE_PAIR names it, the host's Debian 12 packages when unset. For a pair in a Debian root
// its wrappers go first on PATH, so every daemon, client and tool the tests and the service
// under test start (ovsdb-server, ovs-appctl, ovn-trace, ovn-detrace…) is that pair's own.
// A jest globalSetup: it runs in jest's own process, before any test file gets its copy of
// process.env, so children spawned without an explicit env see the same PATH.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

export default function pairSetup(): void {
  const pair = process.env.LIVETRACE_PAIR ?? 'debian12';
  const script = resolve(__dirname, '../../scripts/ovn-root');
  const bin = execFileSync(script, ['bin', pair], { encoding: 'utf8' }).trim();
  if (bin && !(process.env.PATH ?? '').split(':').includes(bin)) process.env.PATH = `${bin}:${process.env.PATH}`;
}
