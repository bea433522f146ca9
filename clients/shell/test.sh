#!/usr/bin/env bash
# Tests for clients/shell/jobkernel.sh and both examples against a real kernel in a temp dir.
#   clients/shell/test.sh          (JOBKERNEL_BIN=/path/to/jobkernel to pick the binary)
# Prints "N passed, N failed"; exits non-zero on any failure. Every wait is bounded.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BIN=${JOBKERNEL_BIN:-$repo/.build/debug/jobkernel}
# shellcheck source=jobkernel.sh
. "$here/jobkernel.sh"

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1${2:+: $2}"; }
check() { # NAME COMMAND...
    local name=$1
    shift
    if "$@" >/dev/null; then ok "$name"; else no "$name"; fi
}

tmp=$(mktemp -d)
kpid=""
cleanup() {
    touch "$tmp/stop"
    [ -n "$kpid" ] && { kill -TERM "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null; }
    rm -rf "$tmp"
}
trap cleanup EXIT

[ -x "$BIN" ] || { echo "no kernel binary at $BIN (swift build, or set JOBKERNEL_BIN)"; exit 1; }
printf '[types.remote]\nmode = "async_api"\n\n[types.other]\nmode = "async_api"\n' >"$tmp/jobkernel.toml"
export JOBKERNEL_SOCKET="$tmp/kernel.sock"
"$BIN" serve --socket "$JOBKERNEL_SOCKET" --db "$tmp/jobs.db" --config "$tmp/jobkernel.toml" 2>"$tmp/kernel.log" &
kpid=$!
for _ in $(seq 200); do jk_call stats >/dev/null 2>&1 && break; sleep 0.05; done

# a worker in the background: its own session; fetch, optional log/progress, ack.
# worker TYPE COUNT → acks COUNT units then exits (bounded by 20 s)
worker() (
    local type=$1 count=$2 n=0 got lease job
    jk_connect || exit 3
    local until=$((SECONDS + 20))
    while [ "$n" -lt "$count" ] && [ "$SECONDS" -lt "$until" ] && [ ! -e "$tmp/stop" ]; do
        got=$(jk_call fetch "{\"types\":[\"$type\"],\"wait_s\":1}") || break
        lease=$(jq -r '.leases[0].lease // empty' <<<"$got")
        [ -n "$lease" ] || continue
        job=$(jq -r '.leases[0].job.id' <<<"$got")
        jk_call log "{\"id\":\"$job\",\"message\":\"hello from bash\"}" >/dev/null
        jk_call progress "{\"id\":\"$job\",\"current\":1,\"total\":2,\"phase\":\"half\"}" >/dev/null
        sleep 0.1
        jk_call ack "{\"lease\":\"$lease\",\"result\":{\"by\":\"bash\"}}" >/dev/null
        n=$((n + 1))
    done
    jk_disconnect
)

# --- jk_call ---
out=$(jk_call stats)
check "jk_call stats prints the result" jq -e '.jobs.pending == 0 and (.seq | type == "number")' <<<"$out"
check "jk_call output is one compact line" test "$(printf '%s\n' "$out" | wc -l)" -eq 1

err=$(jk_call get '{"id":"424242"}' 2>&1 >/dev/null)
rc=$?
check "jk_call returns 1 on a JSON-RPC error" test "$rc" -eq 1
check "jk_call prints the error object to stderr" jq -e '.code == -32001 and .data.reason == "not_found"' <<<"$err"
out=$(jk_call get '{"id":"424242"}' 2>/dev/null)
check "jk_call prints nothing on stdout on error" test -z "$out"

jk_call '$/nothing' >/dev/null 2>"$tmp/e"
check "a \$/ request is -32601" jq -e '.code == -32601' "$tmp/e"
jk_call get 'not json' >/dev/null 2>&1
check "jk_call refuses params that are not JSON (2)" test $? -eq 2

start=$SECONDS
out=$(jk_call fetch '{"types":["other"],"wait_s":2}')
check "jk_call long-poll fetch outlives socat's 0.5 s default" jq -e '.leases == []' <<<"$out"
check "  ... and waited wait_s" test $((SECONDS - start)) -ge 1

(JOBKERNEL_SOCKET="$tmp/none.sock" jk_call stats >/dev/null 2>"$tmp/e")
check "no kernel: jk_call returns 3" test $? -eq 3
check "no kernel: says how to start one" grep -q "jobkernel serve" "$tmp/e"
check "default socket: JOBKERNEL_HOME" test "$(JOBKERNEL_SOCKET='' JOBKERNEL_HOME=/h jk_socket)" = /h/kernel.sock
check "default socket: ~/.local/state" test "$(unset JOBKERNEL_SOCKET JOBKERNEL_HOME; jk_socket)" = "$HOME/.local/state/jobkernel/kernel.sock"

# --- jk_enqueue ---
id=$(jk_enqueue remote '{"n":1}')
check "jk_enqueue prints the job id" grep -Eq '^[0-9]+$' <<<"$id"
check "  ... with the payload" jq -e '.payload == {"n":1} and .status == "pending"' <<<"$(jk_call get "{\"id\":\"$id\"}")"
id2=$(jk_enqueue remote '{}' '{"items":[1,2,3],"priority":95}')
check "jk_enqueue EXTRA params (items, priority)" jq -e '.items.total == 3 and .lane == "priority"' <<<"$(jk_call get "{\"id\":\"$id2\"}")"
jk_enqueue nosuchtype >/dev/null 2>"$tmp/e"
check "jk_enqueue of an unknown type fails with -32002" jq -e '.code == -32002' "$tmp/e"
jk_call cancel "{\"id\":\"$id2\"}" >/dev/null

# --- jk_wait ---
out=$(timeout 20 bash -c '. "$1"; jk_wait "$2" 5' _ "$here/jobkernel.sh" "$id" 2>/dev/null)
rc=$?
check "jk_wait times out with 124 on a job nobody runs" test "$rc" -eq 124
worker remote 1 &
wpid=$!
out=$(timeout 30 bash -c '. "$1"; jk_wait "$2" 20' _ "$here/jobkernel.sh" "$id")
rc=$?
wait "$wpid"
check "jk_wait returns 0 on success" test "$rc" -eq 0
check "jk_wait prints the final status" test "$out" = success
check "the bash worker's result was acked" jq -e '.result == {"by":"bash"}' <<<"$(jk_call get "{\"id\":\"$id\"}")"
out=$(timeout 10 bash -c '. "$1"; jk_wait "$2" 5' _ "$here/jobkernel.sh" "$id")
check "jk_wait on an already terminal job answers from the snapshot" test "$?/$out" = "0/success"
out=$(timeout 10 bash -c '. "$1"; jk_wait "$2" 5' _ "$here/jobkernel.sh" "$id2")
rc=$?
check "jk_wait on a cancelled job: prints cancelled, returns 1" test "$rc/$out" = "1/cancelled"
timeout 10 bash -c '. "$1"; jk_wait 999999 5' _ "$here/jobkernel.sh" >/dev/null 2>"$tmp/e"
check "jk_wait on an unknown job fails (1, -32001 on stderr)" test $? -eq 1 -a -n "$(jq -c 'select(.code == -32001)' "$tmp/e")"

# --- jk_follow ---
id3=$(jk_enqueue other '{}' '{"items":["a","b"]}')
worker other 2 &
wpid=$!
out=$(timeout 30 bash -c '. "$1"; jk_follow "$2" 20' _ "$here/jobkernel.sh" "$id3")
rc=$?
wait "$wpid"
check "jk_follow returns 0 on success" test "$rc" -eq 0
check "jk_follow prints the snapshot status" grep -qx 'status pending' <<<"$out"
check "jk_follow prints status changes" grep -qx 'status pending -> running' <<<"$out"
check "jk_follow prints the terminal status" grep -qx 'status running -> success' <<<"$out"
check "jk_follow prints log lines" grep -qx 'log info hello from bash' <<<"$out"
check "jk_follow prints progress" grep -q '^progress 1/2 50\(\.0\)\?% half' <<<"$out"
check "jk_follow prints item status" grep -qx 'item 1 running -> success' <<<"$out"

# --- jk_follow: the lines logged before it subscribed (snapshot, `logs`, then `since`), once ---
id4=$(jk_enqueue command '{"argv":["sh","-c","echo first; sleep 1; echo second; echo third >&2"]}' '{"max_attempts":1}')
logged=0
for _ in $(seq 100); do
    jq -e '.lines | length >= 1' <<<"$(jk_call logs "{\"id\":\"$id4\"}")" >/dev/null 2>&1 && { logged=1; break; }
    sleep 0.05
done
check "a job logged its first line before jk_follow starts" test "$logged" -eq 1
out=$(timeout 30 bash -c '. "$1"; jk_follow "$2" 20' _ "$here/jobkernel.sh" "$id4")
rc=$?
check "jk_follow of a running job returns 0 on success" test "$rc" -eq 0
check "  ... prints the line logged before it subscribed" grep -qx 'log info first' <<<"$out"
check "  ... then the later lines, each once, in order" \
    test "$(grep '^log ' <<<"$out" | tr '\n' '|')" = 'log info first|log info second|log error third|'

id5=$(jk_enqueue command '{"argv":["sh","-c","for i in $(seq 1 40); do echo line$i; sleep 0.02; done"]}' '{"max_attempts":1}')
sleep 0.3 # it is half way through when jk_follow subscribes
out=$(timeout 30 bash -c '. "$1"; jk_follow "$2" 20' _ "$here/jobkernel.sh" "$id5")
check "jk_follow joining a job mid-log prints every line once, in order (no gap, no duplicate at the seam)" \
    test "$(grep '^log ' <<<"$out" | tr '\n' ' ')" = "$(for i in $(seq 1 40); do printf 'log info line%s ' "$i"; done)"

id6=$(jk_enqueue command '{"argv":["sh","-c","echo out; echo boom >&2; exit 3"]}' '{"max_attempts":1}')
timeout 20 bash -c '. "$1"; jk_wait "$2" 15' _ "$here/jobkernel.sh" "$id6" >/dev/null
out=$(timeout 20 bash -c '. "$1"; jk_follow "$2" 15' _ "$here/jobkernel.sh" "$id6")
rc=$?
check "jk_follow of a failed job returns 1" test "$rc" -eq 1
check "  ... and prints its whole log from the snapshot" test "$(grep '^log ' <<<"$out" | tr '\n' '|')" = 'log info out|log error boom|'
check "  ... and its status" grep -qx 'status failed' <<<"$out"

# --- examples ---
out=$(timeout 60 "$repo/examples/shell/demo.sh" 2>&1)
rc=$?
check "examples/shell/demo.sh against the running kernel" test "$rc" -eq 0
check "  ... shows the job ending success" grep -q "ended success" <<<"$out"
check "  ... shows the worker's log lines" grep -q 'got "gamma"' <<<"$out"
out=$(unset JOBKERNEL_SOCKET; JOBKERNEL_HOME="$tmp/home" JOBKERNEL_BIN="$BIN" timeout 60 "$repo/examples/shell/demo.sh" 2>&1)
rc=$?
check "examples/shell/demo.sh standalone (starts its own kernel)" test "$rc" -eq 0 -a -n "$(grep 'started a kernel' <<<"$out")"

if command -v node >/dev/null; then
    out=$(JOBKERNEL_BIN="$BIN" timeout 60 node "$repo/examples/editor/extension.mjs" 2>"$tmp/e")
    rc=$?
    check "examples/editor/extension.mjs exits 0" test "$rc" -eq 0
    kinds=$(jq -r 'select(.method == "$/progress") | "\(.params.token) \(.params.value.kind)"' <<<"$out" | uniq | tr '\n' ' ')
    check "  ... begin/report/end for the first job" grep -q 'jobkernel-1 begin jobkernel-1 report .*jobkernel-1 end' <<<"$kinds"
    check "  ... reports percentages up to 100" jq -se '[.[] | select(.params.token == "jobkernel-1") | .params.value.percentage // empty] | max == 100' <<<"$out"
    check "  ... cancel from the editor ends the second job" jq -se 'any(.[]; .method == "window/workDoneProgress/cancel") and any(.[]; .params.token == "jobkernel-2" and .params.value.kind == "end" and (.params.value.message | startswith("cancelled")))' <<<"$out"
    check "  ... serve --stdio attached to the running kernel and exited 0" grep -q "was attached and exited with 0" "$tmp/e"
    check "  ... the shell saw the editor's job" grep -q "(the shell): success, created by editor-example" "$tmp/e"
    check "  ... the kernel kept running after the editor left" grep -q "keeps running after the editor left" "$tmp/e"
else
    no "node is needed for examples/editor"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
