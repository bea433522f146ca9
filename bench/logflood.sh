#!/usr/bin/env bash
# SPEC §10: a handler that logs at full speed costs other clients no more than about 1 ms of
# latency, and keeping a job's log under max_log_bytes costs O(1) per line.
#
# Starts a release kernel, measures another client's enqueue latency (one connection, one request
# in flight) idle, then again while an exec handler prints LINES lines of about 60 bytes (the
# default 1 MiB max_log_bytes is passed after ~17,000 of them), and prints both figures and how
# long the flood took.
#
#   bench/logflood.sh [LINES (200000)] [MEASURE_SECS (10)] [WAIT_SECS (60): for the flood to end]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
lines=${1:-200000}
secs=${2:-10}
wait_secs=${3:-60}
bin=${JOBKERNEL_BIN:-$repo/.build/release/jobkernel}
[ -n "${BENCH_NO_BUILD:-}" ] || (cd "$repo" && swift build -c release >/dev/null)
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT
cc -O2 -Wall -o "$tmp/loadgen" "$here/loadgen.c"
printf '[types.bench]\nmode = "async_api"\n' > "$tmp/c.toml"
sock=$tmp/k.sock

"$bin" serve --socket "$sock" --db "$tmp/j.db" --config "$tmp/c.toml" 2>>"$tmp/err" &
echo $! > "$tmp/pid"
for _ in $(seq 2000); do
    "$bin" call stats --socket "$sock" >/dev/null 2>&1 && break
    sleep 0.005
done

figure() { # label, loadgen RESULT line
    local p50 p99 n
    p50=$(sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p' <<<"$2")
    p99=$(sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p' <<<"$2")
    n=$(sed -n 's/.*samples=\([0-9]*\).*/\1/p' <<<"$2")
    printf '%-34s p50 %8.2f ms   p99 %8.2f ms   (%s enqueues)\n' "$1" \
        "$(echo "$p50 / 1000" | bc -l)" "$(echo "$p99 / 1000" | bc -l)" "$n"
}

idle=$("$tmp/loadgen" enqueue -u "$sock" -c 1 -W 1 -D 1 -d 3 | grep '^RESULT')

awk_prog="BEGIN { for (i = 1; i <= $lines; i++) printf \"line %07d of the flood, padded to about sixty bytes.....\\n\", i }"
argv=$(printf '["awk", "%s"]' "$(sed 's/\\/\\\\/g; s/"/\\"/g' <<<"$awk_prog")")
job=$("$bin" call enqueue "{\"type\":\"command\",\"payload\":{\"argv\":$argv}}" --socket "$sock" |
      sed -n 's/.*"id" *: *"\([0-9]*\)".*/\1/p' | head -1)
t0=$(date +%s.%N)
flood=$("$tmp/loadgen" enqueue -u "$sock" -c 1 -W 1 -D 0 -d "$secs" | grep '^RESULT')

echo "log flood: one exec handler printing $lines lines of ~60 bytes (max_log_bytes 1 MiB)"
figure "enqueue, idle kernel:" "$idle"
figure "enqueue, first ${secs} s of the flood:" "$flood"

status=""
while [ "$(echo "$(date +%s.%N) - $t0 < $wait_secs" | bc)" = 1 ]; do
    status=$("$bin" call get "{\"id\":\"$job\"}" --socket "$sock" | sed -n 's/^  "status" *: *"\([a-z_]*\)".*/\1/p')
    [ "$status" = success ] || [ "$status" = failed ] && break
    sleep 0.1
done
t1=$(date +%s.%N)
logged=$("$bin" call logs "{\"id\":\"$job\",\"limit\":1}" --socket "$sock" | tr -d '\n ' |
         sed -n 's/.*"seq":\([0-9]*\).*/\1/p' | head -1)

if [ "$status" = success ]; then
    printf 'the flood took %.1f s (job %s, oldest retained line %s)\n' "$(echo "$t1 - $t0" | bc -l)" "$job" "$logged"
else
    printf 'the flood did not end within %.0f s (job %s is %s; oldest retained line %s)\n' \
        "$(echo "$t1 - $t0" | bc -l)" "$job" "$status" "$logged"
fi
"$bin" call shutdown --socket "$sock" >/dev/null 2>&1 || true
wait "$(cat "$tmp/pid")" 2>/dev/null || true
