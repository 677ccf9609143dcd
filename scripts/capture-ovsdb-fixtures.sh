#!/bin/bash
# Captures real ovsdb-server replies, byte for byte as they came off the socket, into
# test/fixtures/ovsdb/<version>/ for the JSON stream splitter tests, <version> = ovs-X_ovn-Y of the
# pair (as scripts/capture-fixtures names it). Starts its own ovsdb-server of the pair on the pair's
# OVN_Northbound schema in a scratch folder and stops it on exit.
#   scripts/capture-ovsdb-fixtures.sh [--pair debian12|debian13|unstable] [OUTDIR]
#   (PAIR defaults to $LIVETRACE_PAIR or debian12; run once per pair)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PAIR=${LIVETRACE_PAIR:-debian12}
case ${1:-} in
  --pair) PAIR=${2:?--pair PAIR}; shift 2 ;;
  --pair=*) PAIR=${1#--pair=}; shift ;;
esac
# The pair's ovsdb-server, ovsdb-tool and ovn-nbctl first on PATH (wrappers that chroot into its
# root, where /usr/share/ovn/ovn-nb.ovsschema is the pair's own schema).
BIN=$("$ROOT/scripts/ovn-root" bin "$PAIR")
[ -z "$BIN" ] || export PATH="$BIN:$PATH"
OUT=${1:-$ROOT/test/fixtures/ovsdb/$("$ROOT/scripts/capture-fixtures" --version-dir "$PAIR")}
DIR=$(mktemp -d /tmp/ovsdb-capture.XXXXXX)
cleanup() {
  [ -f "$DIR/nb.pid" ] && kill "$(cat "$DIR/nb.pid")" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
mkdir -p "$OUT"

ovsdb-tool create "$DIR/nb.db" /usr/share/ovn/ovn-nb.ovsschema
ovsdb-server --detach --no-chdir --pidfile="$DIR/nb.pid" --log-file="$DIR/nb.log" \
  --remote=punix:"$DIR/nb.sock" --unixctl="$DIR/nb.ctl" "$DIR/nb.db"
for _ in $(seq 100); do [ -S "$DIR/nb.sock" ] && break; sleep 0.05; done

NBCTL="ovn-nbctl --db=unix:$DIR/nb.sock"
# Content that exercises the splitter: braces, brackets and escaped quotes inside strings,
# multi-byte UTF-8 (2, 3 and 4 bytes), a match expression as OVN writes them.
$NBCTL ls-add sw0 -- ls-add sw1
$NBCTL set logical_switch sw0 'external_ids:note="{ not [ a } brace ] \"quoted\" \\ back"' \
  'external_ids:descr="Zürich – 東京 – 🚀 façade"'
$NBCTL lsp-add sw0 lsp1 -- lsp-set-addresses lsp1 "50:54:00:00:00:01 10.0.0.1" \
  -- lsp-add sw0 lsp2 -- lsp-set-addresses lsp2 "50:54:00:00:00:02 10.0.0.2 fd00::2"
$NBCTL acl-add sw0 from-lport 1001 'inport == "lsp1" && ip4 && ip4.dst == {10.0.0.2, 10.0.0.3}' allow-related
$NBCTL lr-add lr0 -- lrp-add lr0 lrp0 00:00:00:00:ff:01 10.0.0.254/24
$NBCTL lb-add lb0 10.0.0.100:80 "10.0.0.1:8080,10.0.0.2:8080" tcp

# Each step sends one request and records the raw bytes of the reply (plus, for the monitor,
# the update2 notification a later change produces).
/usr/bin/python3 - "$DIR/nb.sock" "$OUT" "$NBCTL" <<'PY'
import json, socket, subprocess, sys
sock_path, out, nbctl = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX)
s.connect(sock_path)
buf = b""
dec = json.JSONDecoder()

def read_one():
    global buf
    while True:
        text = buf.lstrip()
        try:
            _, end = dec.raw_decode(text.decode("utf-8"))
            raw = text[: len(text.decode("utf-8")[:end].encode("utf-8"))]
            buf = text[len(raw):]
            return raw
        except (ValueError, UnicodeDecodeError):
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("connection closed")
            buf += chunk

def call(name, method, params, id_):
    s.sendall(json.dumps({"method": method, "params": params, "id": id_}).encode())
    raw = read_one()
    while json.loads(raw).get("id") != id_:  # skip notifications
        raw = read_one()
    open(f"{out}/{name}.json", "wb").write(raw)
    return raw

call("list_dbs", "list_dbs", [], 1)
call("get_schema-nb", "get_schema", ["OVN_Northbound"], 2)
call("transact-select", "transact", ["OVN_Northbound", {"op": "select", "table": "Logical_Switch", "where": []}], 3)
tables = ["Logical_Switch", "Logical_Switch_Port", "ACL", "Logical_Router", "Logical_Router_Port", "Load_Balancer", "NB_Global"]
call("monitor_cond-nb", "monitor_cond", ["OVN_Northbound", "m1", {t: [{}] for t in tables}], 4)
call("monitor_cond_since-nb", "monitor_cond_since",
     ["OVN_Northbound", "m2", {t: [{}] for t in tables}, "00000000-0000-0000-0000-000000000000"], 5)
subprocess.run(nbctl.split() + ["lsp-add", "sw1", "lsp-ü", "--", "set", "logical_switch", "sw0", "external_ids:note=changed"], check=True)
seen = set()
while seen != {"update2", "update3"}:
    raw = read_one()
    m = json.loads(raw)
    if m.get("method") in ("update2", "update3") and m["method"] not in seen:
        open(f"{out}/notification-{m['method']}.json", "wb").write(raw)
        seen.add(m["method"])
PY
echo "fixtures written to $OUT:"; ls -l "$OUT"
