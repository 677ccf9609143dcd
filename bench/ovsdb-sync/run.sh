#!/usr/bin/env bash
# bench/ovsdb-sync: the initial southbound sync, side by side in one run (raw read, C dump,
# Python IDL, naive Node, ours on the wire, ours as a replica), then the replica's steady-state
# update rate while real ovn-northd churns. Writes bench/ovsdb-sync/RESULTS.md.
#
#   bench/ovsdb-sync/run.sh [--rebuild] [--runs N] [--transport unix|tcp] [--churn-seconds S] [--no-churn]
#
# Builds the database on first use (build-db.sh, minutes), then only starts an ovsdb-server on a
# copy of it in a scratch folder. Every daemon started here is stopped on exit, whatever happens.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/ovsdb-sync
DATA=$ROOT/bench/data
RUNS=3
TRANSPORT=unix
CHURN_SECONDS=20
CHURN=1
BUILD_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rebuild) BUILD_ARGS+=(--rebuild) ;;
    --runs) RUNS=$2; shift ;;
    --transport) TRANSPORT=$2; shift ;;
    --churn-seconds) CHURN_SECONDS=$2; shift ;;
    --no-churn) CHURN=0 ;;
    *) sed -n '2,9p' "$0"; exit 2 ;;
  esac
  shift
done
command -v /usr/bin/time >/dev/null || { echo "run: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

"$HERE/build-db.sh" "${BUILD_ARGS[@]}"

SCR=$(mktemp -d /tmp/ovsdb-sync-run.XXXXXX)
export OVS_RUNDIR=$SCR OVS_LOGDIR=$SCR OVS_DBDIR=$SCR OVS_SYSCONFDIR=$SCR
export OVN_RUNDIR=$SCR OVN_LOGDIR=$SCR OVN_DBDIR=$SCR OVN_SYSCONFDIR=$SCR

stop_pidfile() {
  local f=$SCR/$1.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$f"
}
cleanup() {
  for d in ovn-nbctl ovn-northd ovsdb-server-nb ovsdb-server-sb; do stop_pidfile $d; done
  rm -rf "$SCR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# The bench's TypeScript, compiled once with the sources it imports: plain node at run time, so no
# ts-node in any measured process (its compiler would add to the peak RSS). Type errors elsewhere in
# the tree (others mid-edit) do not stop the emit.
echo "run: compiling bench/ovsdb-sync"
(cd "$ROOT" && npx tsc --ignoreConfig --outDir "$SCR/js" --rootDir "$ROOT" --module commonjs --target es2022 \
  --moduleResolution node --ignoreDeprecations 6.0 --esModuleInterop --skipLibCheck --types node --strict \
  bench/ovsdb-sync/client.ts bench/ovsdb-sync/run.ts bench/ovsdb-sync/churn.ts bench/ovsdb-sync/breakdown.ts bench/ovsdb-sync/offline.ts >"$SCR/tsc.log" 2>&1) ||
  { echo "run: tsc reported errors (emitted anyway):"; head -20 "$SCR/tsc.log"; }
[ -f "$SCR/js/bench/ovsdb-sync/client.js" ] || { echo "run: compilation failed"; exit 1; }
JS=$SCR/js/bench/ovsdb-sync

cp "$DATA/ovnsb_db.db" "$SCR/ovnsb_db.db"
SB_PORT=$(free_port)
ovsdb-server --detach --no-chdir --pidfile="$SCR/ovsdb-server-sb.pid" -vconsole:off \
  --log-file="$SCR/ovsdb-server-sb.log" --unixctl="$SCR/ovsdb-server-sb.ctl" \
  --remote="punix:$SCR/ovnsb_db.sock" --remote="ptcp:$SB_PORT:127.0.0.1" "$SCR/ovnsb_db.db"
SB_UNIX=unix:$SCR/ovnsb_db.sock
if [ "$TRANSPORT" = tcp ]; then SB=tcp:127.0.0.1:$SB_PORT; else SB=$SB_UNIX; fi

# The tables and columns of SOUTHBOUND that this server's schema has (as the replica would ask).
ovsdb-client get-schema "$SB_UNIX" OVN_Southbound >"$SCR/schema.json"
node -e '
  const { SOUTHBOUND } = require(process.argv[1]);
  const schema = require(process.argv[2]);
  const out = {};
  for (const [t, spec] of Object.entries(SOUTHBOUND)) {
    if (!schema.tables[t]) continue;
    out[t] = spec.columns.filter((c) => schema.tables[t].columns[c]);
  }
  console.log(JSON.stringify(out));
' "$SCR/js/src/replicas/ovn-tables.js" "$SCR/schema.json" >"$SCR/tables.json"

node "$JS/run.js" --remote "$SB" --tables "$SCR/tables.json" --schema "$SCR/schema.json" \
  --client "$JS/client.js" --python "$HERE/python_idl.py" --runs "$RUNS" \
  --db "$DATA/ovnsb_db.db" --results "$SCR/sync.md"

# Where our time goes, stage by stage (one run; see breakdown.ts).
BREAKDOWN=$(node "$JS/breakdown.js" "$SB" "$SCR/tables.json")
echo "breakdown (ms): $BREAKDOWN"

# The same reply replayed offline (no server noise): the whole-message path, ours (rows streamed),
# the replica, rows applied as they arrive (rowsreplica) and the proposed replica decode loop (sketch). Best CPU of 3 processes each. Add e.g.
# "ours --max-semi-space-size=64" to the list to try V8 flags.
node "$JS/client.js" save "$SB" "$SCR/tables.json" >"$SCR/reply.json"
OFFLINE=""
for spec in "whole" "ours" "replica" "rowsreplica" "sketch"; do
  set -- $spec
  variant=$1; shift
  best=$(for _ in 1 2 3; do node "$@" "$JS/offline.js" "$SCR/reply.json" "$SCR/schema.json" "$variant"; done |
    node -e 'const l=require("fs").readFileSync(0,"utf8").trim().split("\n").map(JSON.parse); l.sort((a,b)=>a.cpuMs-b.cpuMs); console.log(JSON.stringify(l[0]))')
  OFFLINE+="${*:-default} $best"$'\n'
  echo "offline: ${*:-default} $best"
done
rm -f "$SCR/reply.json"

CHURN_JSON=""
if [ $CHURN = 1 ]; then
  echo "run: steady state: ovn-northd on the kept NB/SB, NB churned for ${CHURN_SECONDS}s"
  cp "$DATA/ovnnb_db.db" "$SCR/ovnnb_db.db"
  ovsdb-server --detach --no-chdir --pidfile="$SCR/ovsdb-server-nb.pid" -vconsole:off \
    --log-file="$SCR/ovsdb-server-nb.log" --unixctl="$SCR/ovsdb-server-nb.ctl" \
    --remote="punix:$SCR/ovnnb_db.sock" "$SCR/ovnnb_db.db"
  ovn-northd --detach --no-chdir --pidfile="$SCR/ovn-northd.pid" -vconsole:off \
    --log-file="$SCR/ovn-northd.log" --ovnnb-db="unix:$SCR/ovnnb_db.sock" --ovnsb-db="$SB_UNIX"
  # An ovn-nbctl daemon keeps the NB in memory between the churn's calls.
  OVN_NB_DAEMON=$(ovn-nbctl --db="unix:$SCR/ovnnb_db.sock" --pidfile="$SCR/ovn-nbctl.pid" --detach --no-chdir \
    -vconsole:off --log-file="$SCR/ovn-nbctl.log")
  export OVN_NB_DAEMON
  ovn-nbctl --timeout=300 --wait=sb sync
  CHURN_JSON=$(node "$JS/churn.js" "$SB" "$HERE/churn.sh" "$CHURN_SECONDS")
  echo "$CHURN_JSON"
fi

{
  echo "# bench/ovsdb-sync: results of the last run"
  echo
  echo "Run $(date -u +%Y-%m-%dT%H:%M:%SZ) by \`bench/ovsdb-sync/run.sh\` on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
    "$(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GB RAM; Node $(node --version)," \
    "$(ovsdb-server --version | head -1), $(ovn-northd --version | head -1), Python $(/usr/bin/python3 -c 'import sys; print(sys.version.split()[0])')."
  echo
  echo "Monitored tables and columns (SOUTHBOUND in src/replicas/ovn-tables.ts, minus what this schema lacks):"
  echo "\`$(cat "$SCR/tables.json")\`"
  echo
  echo "## Initial sync"
  echo
  cat "$SCR/sync.md"
  echo
  echo "## Where our time goes (breakdown.ts, one run, ms)"
  echo
  node -e '
    const j = JSON.parse(process.argv[1]);
    console.log("| stage | value |");
    console.log("|---|---:|");
    for (const [k, v] of Object.entries(j)) console.log(`| ${k} | ${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : v} |`);
  ' "$BREAKDOWN"
  echo
  echo "## The same reply replayed offline (offline.ts; best CPU of 3 processes, ms)"
  echo
  echo "| variant | node flags | CPU | split | JSON.parse | replaceAll | peak RSS MB |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  printf '%s' "$OFFLINE" | while read -r flags json; do
    # Through the environment: a flag like --max-semi-space-size in argv would be taken by node itself.
    FLAGS=$flags LINE=$json node -e '
      const j = JSON.parse(process.env.LINE); const f = (x) => (x === undefined ? "" : x.toFixed(0));
      console.log(`| ${j.variant} | ${process.env.FLAGS} | ${f(j.cpuMs)} | ${f(j.split)} | ${f(j.parse)} | ${f(j.replaceAll)} | ${f(j.maxRssMb)} |`);
    '
  done
  if [ -n "$CHURN_JSON" ]; then
    echo
    echo "## Steady state (replica, ovn-northd churning)"
    echo
    node -e '
      const j = JSON.parse(process.argv[1]);
      const f = (x, d = 0) => Number(x).toFixed(d);
      console.log(`NB churn for ${f(j.churnSeconds, 1)} s (${j.churn}; ports with addresses added to and deleted from the benchmark switches through an ovn-nbctl daemon, northd recomputing).`);
      console.log("");
      console.log("| metric | value |");
      console.log("|---|---:|");
      console.log(`| replica sync before churn | ${f(j.syncSeconds, 2)} s |`);
      console.log(`| update notifications applied | ${j.updates} |`);
      console.log(`| rows changed (insert/modify/delete) | ${j.rowsChanged} |`);
      console.log(`| window (first → last update) | ${f(j.windowSeconds, 1)} s |`);
      console.log(`| rows/s applied (as northd produced them) | ${f(j.rowsPerSecond)} |`);
      console.log(`| time inside Replica.applyUpdate2 | ${f(j.applyMs)} ms total, ${f(j.applyMaxMs, 1)} ms max per update |`);
      console.log(`| replica capacity (rows / apply time) | ${f(j.applyCapacityRowsPerSecond)} rows/s |`);
      console.log(`| event-loop lag p50 / p99 / max (10 ms timer, lateness) | ${f(j.lagMs.p50, 1)} / ${f(j.lagMs.p99, 1)} / ${f(j.lagMs.max, 1)} ms |`);
      console.log(`| peak RSS of the replica process | ${f(j.maxRssKb / 1024)} MB |`);
    ' "$CHURN_JSON"
  fi
  echo
  echo "What these numbers mean, where the time goes and the changes proposed for src/ovsdb: FINDINGS.md."
} >"$HERE/RESULTS.md.new"
mv "$HERE/RESULTS.md.new" "$HERE/RESULTS.md"
echo "run: wrote $HERE/RESULTS.md"
