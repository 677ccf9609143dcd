#!/usr/bin/env bash
# bench/api tracing under query load: the delay from an injected packet to its stored trace, with and
# without 8 concurrent readers of ~100 kB `GET /traces?logical_port=` pages, side by side in one run
# (tracing-load.ts). A real sandbox of PAIR (default debian12), the service compiled and started as
# `npm start` starts it (its own process), a session on lsp1.
#
#   bench/api/tracing-load.sh [LABEL] [PAIR] [REV]   appends one JSON line to bench/data/tracing-load.ndjson
#   REV: a git revision whose src/ and migrations/ to run instead of the work tree's (the "before").
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LABEL=${1:-$(git rev-parse --short HEAD)}
PAIR=${2:-debian12}
mkdir -p bench/data
export TS_NODE_TRANSPILE_ONLY=1
# Compiled as `npm run build` compiles it, into bench/data (gitignored; node_modules found upwards),
# so the service runs as `npm start` runs it without touching the work tree's dist/.
SRC=.
if [ -n "${3:-}" ]; then
  SRC=bench/data/src-rev; rm -rf "$SRC"; mkdir -p "$SRC"
  git archive "$3" src migrations tsconfig.json tsconfig.build.json | tar -x -C "$SRC"
fi
rm -rf bench/data/dist
node_modules/.bin/tsc -p "$SRC/tsconfig.build.json" --outDir bench/data/dist
export BENCH_SERVICE_MAIN=$ROOT/bench/data/dist/src/main.js
D=$(mktemp -d /tmp/livetrace-bench-tracing-XXXXXX)
cleanup() { "$ROOT/scripts/ovn-sandbox" stop "$D" >/dev/null 2>&1 || true; rm -rf "$D"; }
trap cleanup EXIT INT TERM
scripts/ovn-sandbox start "$D" --pair "$PAIR" >/dev/null
scripts/ovn-sandbox demo-topology "$D" >/dev/null
# One exact-match flow per packet and pass (as bench/live): each SYN is new flows to trace.
scripts/ovn-sandbox ctl "$D" upcall/disable-megaflows >/dev/null
scripts/ovn-sandbox run "$D" ovs-vsctl set open_vswitch . other_config:max-idle=600000
BENCH_SANDBOX=$D BENCH_LABEL=$LABEL BENCH_PAIR=$PAIR node -r ts-node/register/transpile-only bench/api/tracing-load.ts \
  | sed -n 's/^RESULT //p' >> bench/data/tracing-load.ndjson
tail -1 bench/data/tracing-load.ndjson
