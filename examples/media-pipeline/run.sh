#!/usr/bin/env bash
# media-pipeline: scan -> discover -> enrich -> publish, chained with `next`, gated by workflow
# toggles (docs/promises.md §8.3). Starts a kernel in a temp dir, drives it over socat, checks every outcome,
# stops the kernel. Exit 0 only if everything went as described.
#
#   JOBKERNEL_BIN=/path/to/jobkernel ./run.sh        (default: `jobkernel` on PATH)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/kernel.sh
. "$HERE/../lib/kernel.sh" media

# child ID TYPE: the id of job ID's child of TYPE ("" if none).
child() {
  rpc list "{\"parent_id\":\"$1\",\"type\":\"$2\"}" | jq -r '.jobs[0].id // empty'
}

show() {
  rpc get "{\"id\":\"$1\"}" | jq -r '"  job \(.id | . + " " * (3 - length)) \(.type | . + " " * (8 - length)) \(.status | . + " " * (9 - length)) parent=\(.parent_id // "-") manual=\(.manual) result=\(.result | tostring | .[0:70])"'
}

# wait_terminal ID: poll until the job is terminal (10 s at most); prints its status.
wait_terminal() {
  local s
  for _ in $(seq 200); do
    s=$(field "$1" .status)
    case $s in success|partial_success|failed|cancelled|skipped) echo "$s"; return 0 ;; esac
    sleep 0.05
  done
  fail "job $1 still $s"
}

# run_chain PAYLOAD: enqueue a scan and follow the chain until it stops; sets CHAIN to the ids.
# A successor is enqueued in the same commit as its parent's success, so once a job is `success`
# its successors (if any) already exist.
run_chain() {
  local id next t
  id=$(rpc enqueue "{\"type\":\"scan\",\"payload\":$1}" | jq -r .job.id)
  CHAIN=("$id")
  for t in discover enrich publish; do
    [ "$(wait_terminal "$id")" = success ] || break
    next=$(child "$id" "$t")
    [ -n "$next" ] || break
    CHAIN+=("$next"); id=$next
  done
  wait_terminal "$id" >/dev/null
  for id in "${CHAIN[@]}"; do show "$id"; done
}

echo "== starting a kernel in $JOBKERNEL_HOME"
start_kernel
echo "toggles: $(rpc settings.get)"

echo
echo "== 1. auto_publish = false: the chain stops after enrich"
run_chain '{"library":"/media/movies","files":["Heat (1995).mkv","Ronin (1998).mkv"]}'
[ ${#CHAIN[@]} -eq 3 ] || fail "expected scan, discover, enrich; got ${CHAIN[*]}"
ENRICH=${CHAIN[2]}
[ "$(field "$ENRICH" .status)" = success ] || fail "enrich did not succeed"
[ "$(field "$ENRICH" .children.total)" = 0 ] || fail "enrich chained with auto_publish off"
[ "$(field "${CHAIN[1]}" .payload.from)" = "${CHAIN[0]}" ] || fail "discover.payload.from is not the scan"
echo "  no publish job: $(rpc list '{"type":"publish"}' | jq '.jobs | length') publish jobs exist"
echo "  discover's payload = {from, payload, result}: $(field "${CHAIN[1]}" '.payload | keys | join(", ")')"

echo
echo "== 2. a user reviews and publishes by hand: enqueue with manual: true"
PUB=$(rpc enqueue "{\"type\":\"publish\",\"manual\":true,\"parent_id\":\"$ENRICH\",\"payload\":$(field "$ENRICH" '{from: .id, payload: .payload, result: .result} | tojson')}" | jq -r .job.id)
wait_status "$PUB" success
show "$PUB"
echo "  published: $(field "$PUB" '.result.published | join(", ")')"

echo
echo "== 3. settings.set workflow.auto_publish = true: the chain runs to the end"
echo "  $(rpc settings.set '{"key":"workflow.auto_publish","value":true}')"
run_chain '{"library":"/media/movies","files":["Alien (1979).mkv"]}'
[ ${#CHAIN[@]} -eq 4 ] || fail "expected 4 jobs in the chain, got ${CHAIN[*]}"
[ "$(field "${CHAIN[3]}" .type)/$(field "${CHAIN[3]}" .status)" = publish/success ] || fail "publish did not run"
[ "$(field "${CHAIN[3]}" .manual)" = false ] || fail "chained publish should not be manual"

echo
echo "== 4. requires: with workflow.enrichment off, enrich is skipped when it is about to start"
echo "  $(rpc settings.set '{"key":"workflow.enrichment","value":false}')"
run_chain '{"library":"/media/movies","files":["Brazil (1985).mkv"]}'
[ ${#CHAIN[@]} -eq 3 ] || fail "expected scan, discover, enrich; got ${CHAIN[*]}"
SKIPPED=${CHAIN[2]}
[ "$(field "$SKIPPED" .status)" = skipped ] || fail "enrich should be skipped"
[ "$(field "$SKIPPED" .children.total)" = 0 ] || fail "a skipped job chained"
LOG=$(rpc logs "{\"id\":\"$SKIPPED\"}" | jq -r '.lines[].message')
echo "  enrich's log: $LOG"
echo "  enrich's error: $(field "$SKIPPED" .error.message)"
grep -q enrichment <<<"$LOG" || fail "no log line names the toggle"

echo
echo "== 5. the same toggle does not stop a manual job (a manual enrich, and its chain, run)"
MAN=$(rpc enqueue "{\"type\":\"enrich\",\"manual\":true,\"payload\":$(field "${CHAIN[1]}" '{from: .id, payload: .payload, result: .result} | tojson')}" | jq -r .job.id)
wait_status "$MAN" success
MANPUB=""
for _ in $(seq 100); do MANPUB=$(child "$MAN" publish); [ -n "$MANPUB" ] && break; sleep 0.05; done
[ -n "$MANPUB" ] || fail "manual enrich did not chain"
wait_status "$MANPUB" success
show "$MAN"; show "$MANPUB"
[ "$(field "$MANPUB" .manual)" = true ] || fail "the successor of a manual job must be manual"

echo
echo "== 6. publishing off: a non-manual publish is skipped"
rpc settings.set '{"key":"workflow.enrichment","value":true}' >/dev/null
echo "  $(rpc settings.set '{"key":"workflow.publishing","value":false}')"
P=$(rpc enqueue '{"type":"publish","payload":{"movies":[{"title":"Heat (1995)"}]}}' | jq -r .job.id)
wait_status "$P" skipped
show "$P"
echo "  log: $(rpc logs "{\"id\":\"$P\"}" | jq -r '.lines[].message')"

echo
echo "stats: $(rpc stats | jq -c .jobs)"
stop_kernel
echo "OK: media-pipeline"
