# Shared by the examples' run.sh scripts: find the binary, start a kernel in a temp home with the
# example's config, talk to it over socat, stop it, and clean up. Source it after setting HERE;
# $1 names the example (for the temp dir).
JK=${JOBKERNEL_BIN:-jobkernel}
case $JK in
  */*) JK=$(cd "$(dirname "$JK")" && pwd)/$(basename "$JK") ;;
  *) JK=$(command -v "$JK") || { echo "jobkernel not on PATH: set JOBKERNEL_BIN" >&2; exit 1; } ;;
esac
export JOBKERNEL_HOME; JOBKERNEL_HOME=$(mktemp -d "/tmp/jk-${1:-example}.XXXXXX")
SOCK=$JOBKERNEL_HOME/kernel.sock
KPID=

fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
  local rc=$?
  if [ -n "$KPID" ] && kill -0 "$KPID" 2>/dev/null; then kill -TERM "$KPID"; wait "$KPID" || true; fi
  if [ $rc -ne 0 ]; then echo "--- kernel stderr ---" >&2; tail -40 "$JOBKERNEL_HOME/kernel.log" >&2 || true; fi
  rm -rf "$JOBKERNEL_HOME"
  exit $rc
}
trap cleanup EXIT

# rpc METHOD [PARAMS_JSON]: one request over a fresh socat connection; prints the result as
# compact JSON, or fails on an error response.
rpc() {
  local resp params=${2:-}
  [ -n "$params" ] || params='{}'
  resp=$(printf '{"jsonrpc":"2.0","id":1,"method":"%s","params":%s}\n' "$1" "$params" \
         | socat -t 5 - UNIX-CONNECT:"$SOCK") || { echo "socat failed: $1" >&2; return 1; }
  if [ -z "$resp" ] || jq -e 'has("error")' <<<"$resp" >/dev/null; then
    echo "$1 ${2:-} -> ${resp:-<no answer>}" >&2; return 1
  fi
  jq -c .result <<<"$resp"
}

start_kernel() {
  (cd "$HERE" && exec "$JK" serve --socket "$SOCK" --db "$JOBKERNEL_HOME/jobs.db" \
      --config "$HERE/jobkernel.toml") 2>>"$JOBKERNEL_HOME/kernel.log" &
  KPID=$!
  for _ in $(seq 200); do
    [ -S "$SOCK" ] && rpc stats >/dev/null 2>&1 && return 0
    kill -0 "$KPID" 2>/dev/null || fail "kernel exited at start"
    sleep 0.05
  done
  fail "kernel did not start"
}

stop_kernel() {
  rpc shutdown >/dev/null
  local rc=0; wait "$KPID" || rc=$?
  KPID=
  [ $rc -eq 0 ] || fail "kernel exited $rc after shutdown"
}

field() { rpc get "{\"id\":\"$1\"}" | jq -r "$2"; }

# wait_status ID STATUS: poll `get` until the job has STATUS (10 s at most).
wait_status() {
  local s
  for _ in $(seq 200); do
    s=$(field "$1" .status)
    [ "$s" = "$2" ] && return 0
    case $s in success|partial_success|failed|cancelled|skipped) fail "job $1 ended $s, expected $2" ;; esac
    sleep 0.05
  done
  fail "job $1 still $s, expected $2"
}
