#!/usr/bin/env bash
# bench/live: poller cycle time, RSS and ovs-vswitchd CPU at 10k/50k (real flows in a sandbox) and
# 10k/50k/200k (replayed dump) datapath flows, traces per second end to end, each side by side with
# what ovs-appctl pays; writes bench/live/RESULTS.md. Starts its own sandbox and stops it on exit.
#
#   bench/live/run.sh            everything (~25 min on 2 cores)
#   BENCH_PHASES="links real traces replay" selects phases; BENCH_ASIS=1 adds the unseeded 10k run;
#   BENCH_APPEND=1 adds to the previous results instead of starting over.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/bench/data/live
mkdir -p "$OUT"
RESULTS=$OUT/results.ndjson
PHASES=${BENCH_PHASES:-links real traces replay}
D=$(mktemp -d /tmp/livetrace-bench-live-XXXXXX)
cleanup() { "$ROOT/scripts/ovn-sandbox" stop "$D" || true; rm -rf "$D"; }
trap cleanup EXIT INT TERM
export TS_NODE_TRANSPILE_ONLY=1 BENCH_SANDBOX=$D
has() { [[ " $PHASES " == *" $1 "* ]]; }
# Each script prints progress on stderr and one RESULT line; the RESULT lines are kept.
ts() { node -r ts-node/register/transpile-only "$@" | tee -a /dev/stderr | sed -n 's/^RESULT //p' >> "$RESULTS"; }
fill() { node -r ts-node/register/transpile-only bench/live/fill.ts "$1"; }

[ "${BENCH_APPEND:-0}" = 1 ] || : > "$RESULTS"
echo "{\"bench\":\"machine\",\"date\":\"$(date -u +%FT%TZ)\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"cores\":$(nproc),\"memGb\":$(awk '/MemTotal/{printf "%.0f", $2/1048576}' /proc/meminfo),\"ovs\":\"$(ovs-vswitchd --version | head -1)\",\"node\":\"$(node --version)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"commit\":\"${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo '?')}\"}" >> "$RESULTS"

has links && ts bench/live/links.ts 1000,2000,4000,10000

scripts/ovn-sandbox start "$D"
scripts/ovn-sandbox demo-topology "$D" >/dev/null
eval "$(scripts/ovn-sandbox env "$D")"
# One exact-match flow per packet and pass; flows stay for the whole run.
scripts/ovn-sandbox ctl "$D" upcall/disable-megaflows
ovs-vsctl --db="$OVS_DB" set open_vswitch . other_config:max-idle=7200000 other_config:flow-limit=300000

if has real || has traces; then
  fill 10000
  # Unseeded: the service's first poll cycle over 10k flows (creations, recirculation links, rows), then a
  # session on lsp1 with includeExisting over them: traces/s, vswitchd CPU per trace, distinct paths.
  has traces && BENCH_SEED=0 ts bench/live/traces.ts
  if has real; then
    [ "${BENCH_ASIS:-0}" = 1 ] && BENCH_SEED=0 BENCH_CYCLES=2 BENCH_WINDOW_S=300 ts bench/live/poller.ts real 10000
    BENCH_CYCLES=6 ts bench/live/poller.ts real 10000
  fi
  fill 50000
  has traces && BENCH_SEED=0 ts bench/live/traces.ts
  has real && BENCH_CYCLES=4 BENCH_WINDOW_S=300 ts bench/live/poller.ts real 50000
fi

if has replay; then
  # The sandbox stays for its databases; its datapath is emptied so revalidators stay quiet.
  scripts/ovn-sandbox ctl "$D" dpctl/del-flows
  BENCH_CYCLES=6 ts bench/live/poller.ts replay 10000
  BENCH_CYCLES=4 BENCH_WINDOW_S=300 ts bench/live/poller.ts replay 50000
  BENCH_CYCLES=3 BENCH_WINDOW_S=400 BENCH_POLL_MAX_SHARE=0.2 ts bench/live/poller.ts replay 200000
fi

node -r ts-node/register/transpile-only bench/live/report.ts "$RESULTS" > bench/live/RESULTS.md.new
mv bench/live/RESULTS.md.new bench/live/RESULTS.md
echo "wrote bench/live/RESULTS.md"
