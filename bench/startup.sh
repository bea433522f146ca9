#!/usr/bin/env bash
# docs/promises.md §12: with 1,000,000 stored jobs, start-up under 1 s and memory under 100 MB.
# Creates the schema with the kernel itself, fills it with N finished jobs (each with its one unit
# in its row, as schema 4 keeps it) and their events through sqlite3, then times `serve` until
# the socket answers and reads its VmHWM.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
n=${1:-1000000}
bin=${JOBKERNEL_BIN:-$repo/.build/release/jobkernel}
[ -x "$bin" ] || (cd "$repo" && swift build -c release >/dev/null) 
command -v sqlite3 >/dev/null || { echo "needs sqlite3 (apt-get install sqlite3)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT
printf '[types.bench]\nmode = "async_api"\n' > "$tmp/c.toml"

start_kernel() {
    "$bin" serve --socket "$tmp/k.sock" --db "$tmp/j.db" --config "$tmp/c.toml" 2>>"$tmp/err" &
    echo $! > "$tmp/pid"
}
wait_ready() {
    for _ in $(seq 2000); do
        "$bin" call stats --socket "$tmp/k.sock" >/dev/null 2>&1 && return 0
        sleep 0.001
    done
    echo "kernel did not answer" >&2; cat "$tmp/err" >&2; exit 1
}

start_kernel; wait_ready; "$bin" call shutdown --socket "$tmp/k.sock" >/dev/null; wait "$(cat "$tmp/pid")" || true

echo "filling $n finished jobs…"
t0=$(date +%s.%N)
sqlite3 "$tmp/j.db" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n)
INSERT INTO jobs (id, type, dispatch_mode, status, priority, lane, payload, created_by, manual, attempt,
    max_attempts, cancel_requested, itemized, n_pending, n_running, n_success, n_failed, n_cancelled,
    n_waiting, result, created_at, started_at, finished_at, updated_at, u_status, u_attempt, u_interrupted, u_result)
SELECT i, 'bench', 'async_api', 'success', 50, 'normal', '{"n":' || i || '}', 'bench', 0, 1, 3, 0, 0,
    0, 0, 1, 0, 0, 0, '{"ok":true}', 1700000000000 + i, 1700000000000 + i, 1700000000000 + i, 1700000000000 + i,
    'success', 1, 0, '{"ok":true}'
FROM s;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n)
INSERT INTO events (seq, ts, kind, job_id, type, data) SELECT i, 1700000000000 + i, 'job.status', i, 'bench', '{}' FROM s;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
t1=$(date +%s.%N)
printf 'filled in %.1f s; database %s\n' "$(echo "$t1 - $t0" | bc)" "$(du -h "$tmp/j.db" | cut -f1)"

s0=$(date +%s.%N)
start_kernel; wait_ready
s1=$(date +%s.%N)
pid=$(cat "$tmp/pid")
"$bin" call list '{"limit":100}' --socket "$tmp/k.sock" >/dev/null
"$bin" call get '{"id":"500000"}' --socket "$tmp/k.sock" >/dev/null || true
rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
printf 'start-up with %d stored jobs: %.0f ms until the socket answers (target < 1000 ms)\n' "$n" "$(echo "($s1 - $s0) * 1000" | bc)"
printf 'peak memory (VmHWM): %d MiB (target < 100 MiB)\n' $((rss / 1024))
"$bin" call shutdown --socket "$tmp/k.sock" >/dev/null
wait "$pid" || true
