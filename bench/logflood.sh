#!/usr/bin/env bash
# docs/promises.md §10: a handler that logs at full speed costs other clients no more than about 1 ms of
# latency, and keeping a job's log under max_log_bytes costs O(1) per line.
#
# Starts a release kernel, measures another client's enqueue latency (bench/logflood_probe.py: one
# connection, one request in flight) for 3 s idle, then again from the start to the end of a flood:
# an exec handler printing LINES lines of about 60 bytes (the default 1 MiB max_log_bytes is passed
# after ~17,000 of them). Prints both figures and how long the flood ran.
#
#   bench/logflood.sh [LINES (200000)] [WAIT_SECS (60): how long to measure before giving up]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
lines=${1:-200000}
wait_secs=${2:-60}
bin=${JOBKERNEL_BIN:-$repo/.build/release/jobkernel}
[ -n "${BENCH_NO_BUILD:-}" ] || (cd "$repo" && swift build -c release >/dev/null)
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT
printf '[types.bench]\nmode = "async_api"\n' > "$tmp/c.toml"
sock=$tmp/k.sock

"$bin" serve --socket "$sock" --db "$tmp/j.db" --config "$tmp/c.toml" 2>>"$tmp/err" &
echo $! > "$tmp/pid"
for _ in $(seq 2000); do
    "$bin" call stats --socket "$sock" >/dev/null 2>&1 && break
    sleep 0.005
done

figure() { # label, "p50 p99 max samples" from logflood_probe.py
    read -r p50 p99 mx n <<<"$2"
    printf '%-30s p50 %8s ms   p99 %8s ms   max %8s ms   (%s enqueues)\n' "$1" "$p50" "$p99" "$mx" "$n"
}

idle=$(python3 "$here/logflood_probe.py" "$sock" 3)

awk_prog="BEGIN { for (i = 1; i <= $lines; i++) printf \"line %07d of the flood, padded to about sixty bytes.....\\n\", i }"
argv=$(printf '["awk", "%s"]' "$(sed 's/\\/\\\\/g; s/"/\\"/g' <<<"$awk_prog")")
job=$("$bin" call enqueue "{\"type\":\"command\",\"payload\":{\"argv\":$argv}}" --compact --socket "$sock" |
      grep -o '"id": *"[0-9]*"' | head -1 | grep -o '[0-9]*')
flood=$(python3 "$here/logflood_probe.py" "$sock" "$wait_secs" "$job")
got=$("$bin" call get "{\"id\":\"$job\"}" --compact --socket "$sock")
field() { grep -o "\"$1\": *\"[^\"]*\"" <<<"$got" | head -1 | sed 's/.*"\([^"]*\)"$/\1/'; }
oldest=$("$bin" call logs "{\"id\":\"$job\",\"limit\":1}" --compact --socket "$sock" | grep -o '"seq": *[0-9]*' | head -1 | grep -o '[0-9]*')

echo "log flood: an exec handler prints $lines lines of ~60 bytes (max_log_bytes 1 MiB) while"
echo "another client enqueues, one request in flight"
figure "enqueue, idle kernel:" "$idle"
figure "enqueue, during the flood:" "$flood"
if [ "$(field status)" = success ]; then
    printf 'the flood ran %.1f s, started_at to finished_at (job %s; oldest retained line %s)\n' \
        "$(echo "$(date -d "$(field finished_at)" +%s.%N) - $(date -d "$(field started_at)" +%s.%N)" | bc -l)" "$job" "$oldest"
else
    printf 'the flood had not ended after %s s (job %s is %s; %s lines dropped so far)\n' \
        "$wait_secs" "$job" "$(field status)" "$((oldest - 1))"
fi
"$bin" call shutdown --socket "$sock" >/dev/null 2>&1 || true
wait "$(cat "$tmp/pid")" 2>/dev/null || true
