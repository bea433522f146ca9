#!/usr/bin/env bash
# enqueue → work → wait, in bash, against an async_api type.
#
#   examples/shell/demo.sh
#
# Uses the kernel at $JOBKERNEL_SOCKET (its type $JK_EXAMPLE_TYPE, default "remote", must be
# mode = "async_api"); when none answers it starts its own in a temp dir from $JOBKERNEL_BIN
# (default: the repo's .build/debug/jobkernel, else `jobkernel` on PATH) and stops it at the end.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../../clients/shell/jobkernel.sh
. "$repo/clients/shell/jobkernel.sh"

TYPE=${JK_EXAMPLE_TYPE:-remote}
tmp=$(mktemp -d)
kernel_pid=""
worker_pid=""
cleanup() {
    touch "$tmp/stop"
    [ -n "$worker_pid" ] && wait "$worker_pid" 2>/dev/null
    if [ -n "$kernel_pid" ]; then
        kill -TERM "$kernel_pid" 2>/dev/null
        wait "$kernel_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

if ! jk_call stats >/dev/null 2>&1; then
    bin=${JOBKERNEL_BIN:-$repo/.build/debug/jobkernel}
    [ -x "$bin" ] || bin=$(command -v jobkernel) || { echo "demo: no kernel and no jobkernel binary" >&2; exit 3; }
    printf '[types.%s]\nmode = "async_api"\n' "$TYPE" >"$tmp/jobkernel.toml"
    export JOBKERNEL_SOCKET="$tmp/kernel.sock"
    "$bin" serve --socket "$JOBKERNEL_SOCKET" --db "$tmp/jobs.db" --config "$tmp/jobkernel.toml" 2>"$tmp/kernel.log" &
    kernel_pid=$!
    for _ in $(seq 100); do jk_call stats >/dev/null 2>&1 && break; sleep 0.05; done
    echo "demo: started a kernel on $JOBKERNEL_SOCKET"
fi

# The worker: one persistent connection (a lease lives as long as the connection that fetched it),
# fetch with a long-poll, log, report progress, ack with a result.
worker() {
    jk_connect || exit 3
    while [ ! -e "$tmp/stop" ]; do
        got=$(jk_call fetch "{\"types\":[\"$TYPE\"],\"max\":1,\"wait_s\":1}") || break
        lease=$(jq -r '.leases[0].lease // empty' <<<"$got")
        [ -n "$lease" ] || continue
        job_id=$(jq -r '.leases[0].job.id' <<<"$got")
        value=$(jq -r '.leases[0].item.value // .leases[0].job.payload.text' <<<"$got")
        jk_call log "$(jq -cn --arg id "$job_id" --arg m "worker $$ got \"$value\"" '{id:$id,message:$m}')" >/dev/null
        sleep 0.1 # the "work"
        upper=$(tr '[:lower:]' '[:upper:]' <<<"$value")
        jk_call ack "$(jq -cn --arg l "$lease" --arg u "$upper" '{lease:$l,result:{upper:$u}}')" >/dev/null
    done
    jk_disconnect
}
worker &
worker_pid=$!

id=$(jk_enqueue "$TYPE" '{"text":"hello"}' '{"items":["alpha","beta","gamma"]}') || exit 1
echo "demo: enqueued job $id"
jk_follow "$id" 30
status=$(jk_wait "$id" 10)
rc=$?
echo "demo: job $id ended $status"
jk_call get "{\"id\":\"$id\"}" | jq -c '{status, items}'
exit $rc
