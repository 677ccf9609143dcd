#!/usr/bin/env bash
# Builds a southbound database with at least TARGET logical flows (default 100,000) using real
# ovn-northd: NB/SB ovsdb-servers + ovn-northd in a scratch folder, a NB topology added in batches
# with ovn-nbctl (switches × ports with addresses, one port group per switch with ACLs whose
# matches name that switch's addresses, so northd makes per-switch flows), until the SB has
# TARGET Logical_Flow rows. Keeps the compacted ovnsb_db.db / ovnnb_db.db under bench/data/
# (gitignored) and reuses them: rebuilds only when missing or with --rebuild.
#
#   bench/ovsdb-sync/build-db.sh [--rebuild] [TARGET]
#
# Why no ovn-controller/ovs-vswitchd: only the databases are measured, and a chassis installing
# 100k flows would only slow the build down.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=$ROOT/bench/data
REBUILD=0
TARGET=100000
PORTS=${PORTS:-40}         # ports per switch
ACLS=${ACLS:-6}           # ACLs per switch's port group
PER_CALL=3        # switches per ovn-nbctl call (~100 commands per switch)
CHUNK=${CHUNK:-60}         # switches between lflow counts
for a in "$@"; do
  case "$a" in
    --rebuild) REBUILD=1 ;;
    [0-9]*) TARGET=$a ;;
    *) echo "usage: $0 [--rebuild] [TARGET]" >&2; exit 2 ;;
  esac
done

# Counts a table's rows with one select of _uuid (ovn-sbctl list would print every column).
count_rows() { # count_rows REMOTE DB TABLE
  ovsdb-client transact "$1" "[\"$2\",{\"op\":\"select\",\"table\":\"$3\",\"where\":[],\"columns\":[\"_uuid\"]}]" |
    grep -o '"uuid"' | wc -l
}

if [ $REBUILD = 0 ] && [ -s "$DATA/ovnsb_db.db" ] && [ -s "$DATA/ovnnb_db.db" ]; then
  echo "build-db: reusing $DATA/ovnsb_db.db ($(du -h "$DATA/ovnsb_db.db" | cut -f1)); --rebuild to rebuild"
  exit 0
fi

mkdir -p "$DATA"
DIR=$(mktemp -d /tmp/ovsdb-sync-build.XXXXXX)
export OVS_RUNDIR=$DIR OVS_LOGDIR=$DIR OVS_DBDIR=$DIR OVS_SYSCONFDIR=$DIR
export OVN_RUNDIR=$DIR OVN_LOGDIR=$DIR OVN_DBDIR=$DIR OVN_SYSCONFDIR=$DIR
NB=unix:$DIR/ovnnb_db.sock
SB=unix:$DIR/ovnsb_db.sock

stop_all() {
  local name pid
  for name in ovn-northd ovsdb-server-nb ovsdb-server-sb; do
    [ -f "$DIR/$name.pid" ] || continue
    pid=$(cat "$DIR/$name.pid" 2>/dev/null || true)
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
cleanup() { stop_all; rm -rf "$DIR"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

ovsdb-tool create "$DIR/ovnnb_db.db" /usr/share/ovn/ovn-nb.ovsschema
ovsdb-tool create "$DIR/ovnsb_db.db" /usr/share/ovn/ovn-sb.ovsschema
for db in nb sb; do
  ovsdb-server --detach --no-chdir --pidfile="$DIR/ovsdb-server-$db.pid" -vconsole:off \
    --log-file="$DIR/ovsdb-server-$db.log" --remote="punix:$DIR/ovn${db}_db.sock" \
    --unixctl="$DIR/ovsdb-server-$db.ctl" "$DIR/ovn${db}_db.db"
done
ovn-nbctl --db="$NB" init
ovn-sbctl --db="$SB" init
ovn-northd --detach --no-chdir --pidfile="$DIR/ovn-northd.pid" -vconsole:off \
  --log-file="$DIR/ovn-northd.log" --ovnnb-db="$NB" --ovnsb-db="$SB"

# The ovn-nbctl arguments for switch I: PORTS ports with MAC+IP, a port group, ACLS ACLs.
switch_cmds() {
  local i=$1 j a b
  a=$(( (i >> 8) & 255 )); b=$(( i & 255 ))
  local sw; sw=$(printf 'sw%04d' "$i")
  echo "-- ls-add $sw"
  local ports=""
  for ((j = 1; j <= PORTS; j++)); do
    local p; p=$(printf '%s-p%02d' "$sw" "$j")
    printf -- '-- lsp-add %s %s -- lsp-set-addresses %s "0a:%02x:%02x:00:00:%02x 10.%d.%d.%d"\n' \
      "$sw" "$p" "$p" "$a" "$b" "$j" "$a" "$b" "$j"
    ports="$ports $p"
  done
  echo "-- pg-add pg$i$ports"
  for ((j = 1; j <= ACLS; j++)); do
    local dir=from-lport port=inport
    [ $((j % 2)) = 0 ] && { dir=to-lport; port=outport; }
    printf -- "-- acl-add pg%d %s %d '%s == @pg%d && ip4.dst == 10.%d.%d.0/24 && tcp.dst == %d' allow-related\n" \
      "$i" "$dir" $((1000 + j)) "$port" "$i" "$a" "$b" $((8000 + j))
  done
}

echo "build-db: building in $DIR (target $TARGET logical flows, $PORTS ports and $ACLS ACLs per switch)"
start=$(date +%s)
i=0
lflows=0
while [ "$lflows" -lt "$TARGET" ]; do
  end=$((i + CHUNK))
  while [ $i -lt $end ]; do
    cmds=""
    for ((k = 0; k < PER_CALL; k++)); do cmds+=$(switch_cmds $i)$'\n'; i=$((i + 1)); done
    # One call per few switches; eval keeps the quoted addresses and matches as single arguments.
    eval "ovn-nbctl --db=\"$NB\" --timeout=600 $(echo "$cmds" | tr '\n' ' ')" >/dev/null
  done
  ovn-nbctl --db="$NB" --timeout=1200 --wait=sb sync
  lflows=$(count_rows "$SB" OVN_Southbound Logical_Flow)
  echo "build-db: $i switches, $((i * PORTS)) ports: $lflows logical flows ($(( $(date +%s) - start )) s)"
done

# Compact so that later runs start ovsdb-server on a snapshot, not on a long transaction log.
ovs-appctl -t "$DIR/ovsdb-server-sb.ctl" ovsdb-server/compact
ovs-appctl -t "$DIR/ovsdb-server-nb.ctl" ovsdb-server/compact
stop_all
cp "$DIR/ovnsb_db.db" "$DATA/ovnsb_db.db.tmp" && mv "$DATA/ovnsb_db.db.tmp" "$DATA/ovnsb_db.db"
cp "$DIR/ovnnb_db.db" "$DATA/ovnnb_db.db.tmp" && mv "$DATA/ovnnb_db.db.tmp" "$DATA/ovnnb_db.db"
echo "build-db: Logical_Flow rows: $lflows; $DATA/ovnsb_db.db $(du -h "$DATA/ovnsb_db.db" | cut -f1), $(( $(date +%s) - start )) s"
