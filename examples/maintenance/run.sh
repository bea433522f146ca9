#!/usr/bin/env bash
# maintenance: [[schedules]] enqueue maintenance jobs once per epoch-aligned slot, in the priority
# lane, with created_by "schedule" and the idempotency key schedule:<name>:<slot>; a restart inside
# a slot does not enqueue that slot again.
#
#   JOBKERNEL_BIN=/path/to/jobkernel ./run.sh        (default: `jobkernel` on PATH)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/kernel.sh
. "$HERE/../lib/kernel.sh" maint


show() {
  rpc get "{\"id\":\"$1\"}" | jq -r '"  job \(.id) \(.type) \(.status) lane=\(.lane) priority=\(.priority) created_by=\(.created_by)"'
}
jobs_of() { rpc list "{\"type\":\"$1\",\"limit\":1000}"; }

# Restarting inside the hourly slot must not cross the hour: wait if the hour ends in < 20 s.
left=$(( 3600 - $(date +%s) % 3600 ))
if [ "$left" -lt 20 ]; then echo "(waiting ${left}s for the next hour slot to begin)"; sleep "$left"; fi

echo "== starting a kernel in $JOBKERNEL_HOME (max_parallel_jobs = 2, priority_lane_slots = 1)"
start_kernel

echo
echo "== two long normal-lane reindex jobs: one takes the only normal slot, the other waits"
R1=$(rpc enqueue '{"type":"reindex","payload":{"index":"photos"}}' | jq -r .job.id)
R2=$(rpc enqueue '{"type":"reindex","payload":{"index":"videos"}}' | jq -r .job.id)
wait_status "$R1" running
show "$R1"; show "$R2"

echo
echo "== the next trash_maintenance slot runs in the priority lane while reindex $R2 still waits"
T=""
for _ in $(seq 100); do
  T=$(rpc list "{\"type\":\"trash_maintenance\",\"limit\":1}" | jq -r --argjson r "$R2" '.jobs[0] | select((.id | tonumber) > $r) | .id')
  [ -n "$T" ] && break; sleep 0.1
done
[ -n "$T" ] || fail "no trash_maintenance job after 10 s"
wait_status "$T" success
show "$T"
[ "$(field "$R2" .status)" = pending ] || fail "reindex $R2 should still be pending"
echo "  meanwhile reindex $R1 is $(field "$R1" .status) and reindex $R2 is still $(field "$R2" .status)"
rpc get "{\"id\":\"$T\"}" | jq -c '{id, lane, priority, created_by, idempotency_key, started_at, finished_at}' | sed 's/^/  /'
[ "$(field "$T" .lane)" = priority ] || fail "scheduled job not in the priority lane"
[ "$(field "$T" .created_by)" = schedule ] || fail "created_by is not schedule"
[ "$(field "$T" .priority)" = 100 ] || fail "priority is not the schedule's 100"
KEY=$(field "$T" .idempotency_key)
SLOT=${KEY##*:}
[[ $KEY =~ ^schedule:trash_maintenance:[0-9]+$ ]] || fail "unexpected key $KEY"
CREATED=$(field "$T" .created_at)
EPOCH=$(date -d "$CREATED" +%s)
echo "  slot $SLOT = floor(unix time / 2 s): created at $CREATED = $EPOCH s → slot $((EPOCH / 2))"
[ "$SLOT" = $((EPOCH / 2)) ] || fail "slot $SLOT is not floor($EPOCH / 2)"

echo
echo "== schedules"
rpc schedules | jq -c '.[]' | sed 's/^/  /'
LAST=$(rpc schedules | jq -r '.[] | select(.name == "trash_maintenance") | .last_job_id')
[ "$(field "$LAST" .type)" = trash_maintenance ] || fail "last_job_id $LAST is not a trash_maintenance job"

echo
echo "== one job per slot so far"
jobs_of trash_maintenance | jq -r '.jobs | reverse[] | "  job \(.id) \(.idempotency_key) \(.status)"'
[ "$(jobs_of trash_maintenance | jq '[.jobs[].idempotency_key] | (length == (unique | length))')" = true ] || fail "a slot was enqueued twice"

rpc cancel "{\"id\":\"$R1\"}" >/dev/null; rpc cancel "{\"id\":\"$R2\"}" >/dev/null
wait_status "$R1" cancelled

echo
echo "== restart the kernel inside the same manifest_check slot (every = 1h)"
BEFORE=$(jobs_of manifest_check | jq -c '[.jobs[] | {id, idempotency_key}]')
echo "  manifest_check jobs before: $BEFORE"
stop_kernel
echo "  (kernel stopped)"
start_kernel
sleep 0.5
AFTER=$(jobs_of manifest_check | jq -c '[.jobs[] | {id, idempotency_key}]')
echo "  manifest_check jobs after:  $AFTER"
[ "$(jq length <<<"$BEFORE")" = 1 ] || fail "expected one manifest_check job before the restart"
[ "$BEFORE" = "$AFTER" ] || fail "the restart enqueued the manifest_check slot again"
rpc schedules | jq -c '.[] | select(.name == "manifest_check")' | sed 's/^/  /'
echo "  trash_maintenance (2 s slots; those missed while the kernel was down run once):"
sleep 2.5
jobs_of trash_maintenance | jq -r '.jobs | reverse[] | "  job \(.id) \(.idempotency_key) \(.status)"'
[ "$(jobs_of trash_maintenance | jq '[.jobs[].idempotency_key] | (length == (unique | length))')" = true ] || fail "a slot was enqueued twice"

echo
echo "stats: $(rpc stats | jq -c .jobs)"
stop_kernel
echo "OK: maintenance"
