#!/usr/bin/env bash
# uploads: an itemized upload_postprocess job (one unit per uploaded file) run by an exec handler
# that reports progress. A subscriber prints every item.status event as it happens; one file is
# broken, so the job ends partial_success; after it is re-uploaded, `retry` re-runs that item only.
#
#   JOBKERNEL_BIN=/path/to/jobkernel ./run.sh        (default: `jobkernel` on PATH)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/kernel.sh
. "$HERE/../lib/kernel.sh" uploads


SUBPID=

echo "== starting a kernel in $JOBKERNEL_HOME"
start_kernel

UPLOAD=$JOBKERNEL_HOME/upload
mkdir -p "$UPLOAD"
FILES=(IMG_0001.jpg IMG_0002.jpg IMG_0003.jpg IMG_0004.jpg IMG_0005.jpg)
for f in "${FILES[@]}"; do printf '\xff\xd8\xff\xe0 fake jpeg %s' "$f" >"$UPLOAD/$f"; done
printf 'ftypheic: not a jpeg at all' >"$UPLOAD/IMG_0004.jpg"      # the broken upload (index 3)
echo "uploaded: ${FILES[*]} (IMG_0004.jpg is really a HEIC)"

echo
echo "== subscribing to upload_postprocess events (one long-lived socat connection)"
EVENTS=$JOBKERNEL_HOME/events.ndjson
FIFO=$JOBKERNEL_HOME/sub.in
mkfifo "$FIFO"
FMT='if .method == "event" then .params as $e |
       if $e.kind == "item.status" then
         "  [seq \($e.seq)] item \($e.data.index) \($e.data.from) -> \($e.data.to)" +
         (if $e.data.error then "  (\($e.data.error.message))" else "" end)
       elif $e.kind == "job.progress" then
         "  [seq \($e.seq)]   progress \($e.data.progress.current)/\($e.data.progress.total) \($e.data.progress.phase // "") \($e.data.progress.message // "")"
       else "  [seq \($e.seq)] job \($e.job_id) \($e.data.from) -> \($e.data.to)" end
     elif .result then "  subscribed (\(.result.subscription)) at seq \(.result.seq)"
     else "  ?? \(.)" end'
socat -t 5 - UNIX-CONNECT:"$SOCK" <"$FIFO" | tee "$EVENTS" | jq --unbuffered -r "$FMT" &
SUBPID=$!
exec 3>"$FIFO"
echo '{"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"types":["upload_postprocess"],"kinds":["job.status","job.progress","item.status"]}}' >&3
for _ in $(seq 100); do grep -q '"result"' "$EVENTS" 2>/dev/null && break; sleep 0.05; done
grep -q '"result"' "$EVENTS" || fail "no subscribe answer"

echo
echo "== enqueue: one job, ${#FILES[@]} items"
ITEMS=$(printf '%s\n' "${FILES[@]}" | jq -R . | jq -sc .)
JOB=$(rpc enqueue "{\"type\":\"upload_postprocess\",\"payload\":{\"dir\":\"$UPLOAD\"},\"items\":$ITEMS,\"idempotency_key\":\"upload-42\"}" | jq -r .job.id)
echo "  job $JOB"
wait_status "$JOB" partial_success
sleep 0.2   # let the last events print
echo "  job $JOB: $(field "$JOB" '"\(.status), items \(.items | tostring), error \(.error | tostring)"')"
[ "$(field "$JOB" '.items.success')" = 4 ] || fail "expected 4 items succeeded"
[ "$(field "$JOB" '.items.failed')" = 1 ] || fail "expected 1 item failed"
# non-retryable: the failed item ran once
RUNS=$(jq -s '[.[] | select(.params.kind == "item.status" and .params.data.index == 3 and .params.data.to == "running")] | length' "$EVENTS")
[ "$RUNS" = 1 ] || fail "item 3 ran $RUNS times (non-retryable error should not be retried)"

echo
echo "== the user re-uploads IMG_0004.jpg, then: retry"
printf '\xff\xd8\xff\xe0 fake jpeg IMG_0004.jpg (re-uploaded)' >"$UPLOAD/IMG_0004.jpg"
SEQ=$(rpc stats | jq .seq)
echo "  $(rpc retry "{\"id\":\"$JOB\"}" | jq -c '{id, status, items}')"
wait_status "$JOB" success
sleep 0.2
echo "  job $JOB: $(field "$JOB" '"\(.status), items \(.items | tostring)"')"
[ "$(field "$JOB" '.items.success')" = 5 ] || fail "expected 5 items succeeded"

exec 3>&-            # end the subscriber's input: socat half-closes, the kernel closes, socat exits
wait "$SUBPID" || true
SUBPID=
RERUN=$(jq -sc --argjson s "$SEQ" '[.[] | select(.params.kind == "item.status" and .params.seq > $s and .params.data.to == "running") | .params.data.index] | unique' "$EVENTS")
echo "  items re-run by the retry: $RERUN"
[ "$RERUN" = "[3]" ] || fail "retry should re-run item 3 only, ran $RERUN"

echo
echo "== the job's log"
rpc logs "{\"id\":\"$JOB\"}" | jq -r '.lines[] | "  \(.seq) \(.level) \(.message)"'

stop_kernel
echo "OK: uploads"
