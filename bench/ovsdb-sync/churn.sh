#!/usr/bin/env bash
# NB churn for the steady-state measurement: for SECONDS, add PORTS ports (with addresses) to a
# switch of the benchmark topology in one ovn-nbctl call, then delete them in the next, moving to
# another switch each round. Uses OVN_NB_DAEMON (an ovn-nbctl daemon that keeps the NB in memory:
# a plain ovn-nbctl would download the whole NB on every call) or OVN_NB_DB.
# Prints "rounds=N ports_added=N ports_deleted=N" at the end.
set -euo pipefail
SECONDS_TOTAL=${1:-20}
PORTS=${PORTS:-20}
# Up to 100 of the topology's switches, taken in turn.
mapfile -t SW < <(ovn-nbctl --bare --columns=name list Logical_Switch | grep . | sort | head -n 100)
[ ${#SW[@]} -gt 0 ] || { echo "churn: no logical switch in the NB" >&2; exit 1; }
end=$(( $(date +%s) + SECONDS_TOTAL ))
round=0 added=0 deleted=0
# Each call adds batch N and deletes batch N-KEEP, so ports live across several northd runs
# (an add and a delete that northd sees together would cancel out and change nothing in the SB).
KEEP=${KEEP:-3}
PAUSE=${PAUSE:-0.1}
batch() { # batch N: the names of batch N's ports
  local k; for ((k = 1; k <= PORTS; k++)); do echo "churn-$1-$k"; done
}
while [ "$(date +%s)" -lt "$end" ]; do
  sw=${SW[$(( round % ${#SW[@]} ))]}
  args=()
  for p in $(batch $round); do
    k=${p##*-}
    args+=(-- lsp-add "$sw" "$p" -- lsp-set-addresses "$p" "$(printf '0e:00:%02x:%02x:00:%02x 10.200.%d.%d' $(( (round >> 8) & 255 )) $(( round & 255 )) "$k" $(( round & 255 )) "$k")")
  done
  added=$(( added + PORTS ))
  if [ $round -ge "$KEEP" ]; then
    for p in $(batch $(( round - KEEP ))); do args+=(-- lsp-del "$p"); done
    deleted=$(( deleted + PORTS ))
  fi
  ovn-nbctl "${args[@]}" >/dev/null
  round=$(( round + 1 ))
  sleep "$PAUSE"
done
# Leave the NB as it was.
args=()
for ((r = round - KEEP; r < round; r++)); do
  [ $r -ge 0 ] || continue
  for p in $(batch $r); do args+=(-- lsp-del "$p"); done
  deleted=$(( deleted + PORTS ))
done
[ ${#args[@]} -eq 0 ] || ovn-nbctl "${args[@]}" >/dev/null
echo "rounds=$round ports_added=$added ports_deleted=$deleted"
