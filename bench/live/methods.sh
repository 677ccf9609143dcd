#!/usr/bin/env bash
# bench/live methods: ofproto/detrace vs ofproto/trace of the flow's own key, side by side in one run
# per pair (OVS >= 3.4 only: debian13 = OVS 3.5, unstable = OVS 4.0), each in a sandbox of its own;
# then the service itself under each LIVETRACE_TRACE_METHOD on one traffic mix (methods-service.ts);
# writes bench/live/RESULTS-methods.md (the numbers LIVETRACE_TRACE_METHOD's default is chosen from).
#
#   bench/live/methods.sh [PAIR...]      default: debian13 unstable (~3 min each)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/bench/data/live
mkdir -p "$OUT"
RESULTS=$OUT/methods.ndjson
PAIRS=("$@")
[ ${#PAIRS[@]} -gt 0 ] || PAIRS=(debian13 unstable)
export TS_NODE_TRANSPILE_ONLY=1
: > "$RESULTS"
echo "{\"bench\":\"machine\",\"date\":\"$(date -u +%FT%TZ)\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"cores\":$(nproc),\"node\":\"$(node --version)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"commit\":\"$(git rev-parse --short HEAD 2>/dev/null || echo '?')\"}" >> "$RESULTS"
D=
cleanup() { [ -z "$D" ] || { "$ROOT/scripts/ovn-sandbox" stop "$D" || true; rm -rf "$D"; }; }
trap cleanup EXIT INT TERM
for pair in "${PAIRS[@]}"; do
  D=$(mktemp -d /tmp/livetrace-bench-methods-XXXXXX)
  scripts/ovn-sandbox start "$D" --pair "$pair" >/dev/null
  scripts/ovn-sandbox demo-topology "$D" >/dev/null
  # One exact-match flow per packet and pass (as run.sh), so each SYN is flows of its own.
  scripts/ovn-sandbox ctl "$D" upcall/disable-megaflows >/dev/null
  # Flows stay for the whole run (the cost rounds ask about the same flows again and again).
  scripts/ovn-sandbox run "$D" ovs-vsctl set open_vswitch . other_config:max-idle=600000
  BENCH_SANDBOX=$D node -r ts-node/register/transpile-only bench/live/methods.ts | tee -a /dev/stderr | sed -n "s/^RESULT {/{\"pair\":\"$pair\",/p" >> "$RESULTS"
  BENCH_SANDBOX=$D node -r ts-node/register/transpile-only bench/live/methods-service.ts | tee -a /dev/stderr | sed -n "s/^RESULT {/{\"pair\":\"$pair\",/p" >> "$RESULTS"
  cleanup; D=
done
node -r ts-node/register/transpile-only bench/live/methods-report.ts "$RESULTS" > bench/live/RESULTS-methods.md.new
mv bench/live/RESULTS-methods.md.new bench/live/RESULTS-methods.md
echo "wrote bench/live/RESULTS-methods.md"
