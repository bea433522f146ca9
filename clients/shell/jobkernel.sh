# shellcheck shell=bash
# jobkernel shell client: source this file, then use the jk_* functions.
#
#   . clients/shell/jobkernel.sh
#   id=$(jk_enqueue command '{"argv":["sleep","1"]}')
#   jk_wait "$id" 30 && echo done
#
# Needs bash >= 4.3, socat and jq. The kernel's socket is $JOBKERNEL_SOCKET, else
# $JOBKERNEL_HOME/kernel.sock, else ~/.local/state/jobkernel/kernel.sock.
#
# Functions
#   jk_socket                       print the socket path in use
#   jk_call METHOD [PARAMS_JSON]    print the result as compact JSON; on a JSON-RPC error print
#                                   the error object to stderr and return 1; no kernel: return 3
#   jk_enqueue TYPE [PAYLOAD_JSON] [EXTRA_PARAMS_JSON]
#                                   print the new job's id (EXTRA e.g. '{"items":[1,2],"priority":90}')
#   jk_wait ID [TIMEOUT_S]          block until the job is terminal, print its final status;
#                                   0 only on success, 1 otherwise, 124 on timeout, 3 no kernel
#   jk_follow ID [TIMEOUT_S]        print status/progress/log/item events until terminal; same codes.
#                                   The lines logged before it started come first (each line once).
#   jk_connect / jk_disconnect      open/close a persistent connection; while one is open jk_call
#                                   uses it. Needed by workers: a lease lives only as long as the
#                                   connection that fetched it (docs/promises.md §5.4), so fetch and ack must share one.
#
# Each jk_call otherwise runs `socat -t T` on a fresh connection, T = JK_TIMEOUT (default 10)
# plus the call's wait_s, so a long-polling fetch is not cut off after socat's 0.5 s default.

jk_socket() {
    printf '%s\n' "${JOBKERNEL_SOCKET:-${JOBKERNEL_HOME:-$HOME/.local/state/jobkernel}/kernel.sock}"
}

_jk_no_kernel() {
    local sock
    sock=$(jk_socket)
    echo "jobkernel: no kernel answers at $sock (start one with: jobkernel serve --socket $sock)" >&2
    return 3
}

# _jk_request ID METHOD PARAMS: print one NDJSON request line (fails if PARAMS is not JSON).
_jk_request() {
    jq -cn --arg id "$1" --arg m "$2" --argjson p "$3" '{jsonrpc:"2.0",id:$id,method:$m,params:$p}'
}

# _jk_answer: read the response JSON on stdin; print result or error, return 0/1.
_jk_answer() {
    local resp
    resp=$(cat)
    if [ -z "$resp" ]; then
        _jk_no_kernel
        return 3
    fi
    if jq -e 'has("error")' <<<"$resp" >/dev/null 2>&1; then
        jq -c '.error' <<<"$resp" >&2
        return 1
    fi
    jq -c '.result' <<<"$resp"
}

jk_call() {
    local method=${1:?usage: jk_call METHOD [PARAMS_JSON]} params=${2:-'{}'}
    local id="jk-${BASHPID}-${RANDOM}${RANDOM}" req wait t
    if ! req=$(_jk_request "$id" "$method" "$params" 2>/dev/null); then
        echo "jk_call: PARAMS_JSON is not valid JSON: $params" >&2
        return 2
    fi
    wait=$(jq -r 'if type == "object" then ((.wait_s // 0) | ceil) else 0 end' <<<"$params" 2>/dev/null) || wait=0
    t=$((${JK_TIMEOUT:-10} + wait))
    if [ -n "${JK_WFD:-}" ] && [ -n "${JK_RFD:-}" ]; then
        # persistent session (jk_connect): write the request, read lines until our answer
        printf '%s\n' "$req" >&"$JK_WFD" || { _jk_no_kernel; return 3; }
        local line partial="" deadline=$((SECONDS + t))
        while :; do
            if [ "$SECONDS" -gt "$deadline" ]; then
                echo "jk_call: no answer to $method within ${t}s" >&2
                return 124
            fi
            if IFS= read -r -t 1 line <&"$JK_RFD"; then
                line=$partial$line partial=""
                if jq -e --arg id "$id" '.id == $id' <<<"$line" >/dev/null 2>&1; then
                    _jk_answer <<<"$line"
                    return
                fi
            else
                # a timed-out read keeps what it got of a line: carry it over
                [ $? -gt 128 ] && { partial=$partial$line; continue; }
                echo "jk_call: the session connection closed" >&2
                return 3
            fi
        done
    fi
    local out
    out=$(printf '%s\n' "$req" | socat -t "$t" - UNIX-CONNECT:"$(jk_socket)" 2>/dev/null) || { _jk_no_kernel; return 3; }
    jq -c --arg id "$id" 'select(type == "object" and .id == $id)' <<<"$out" 2>/dev/null | head -n 1 | _jk_answer
}

jk_connect() {
    local sock
    sock=$(jk_socket)
    [ -S "$sock" ] || { _jk_no_kernel; return 3; }
    coproc JK_CO { exec socat - UNIX-CONNECT:"$sock" 2>/dev/null; }
    exec {JK_RFD}<&"${JK_CO[0]}" {JK_WFD}>&"${JK_CO[1]}"
    JK_SESSION_PID=$JK_CO_PID
    # fail early when nothing answers
    jk_call stats >/dev/null || { jk_disconnect; return 3; }
}

jk_disconnect() {
    [ -n "${JK_WFD:-}" ] && exec {JK_WFD}>&-
    [ -n "${JK_RFD:-}" ] && exec {JK_RFD}<&-
    if [ -n "${JK_SESSION_PID:-}" ]; then
        kill "$JK_SESSION_PID" 2>/dev/null
        wait "$JK_SESSION_PID" 2>/dev/null
    fi
    unset JK_WFD JK_RFD JK_SESSION_PID
    return 0
}

jk_enqueue() {
    local type=${1:?usage: jk_enqueue TYPE [PAYLOAD_JSON] [EXTRA_PARAMS_JSON]} payload=${2:-'{}'} extra=${3:-'{}'}
    local params res
    params=$(jq -cn --arg t "$type" --argjson p "$payload" --argjson x "$extra" '{type:$t,payload:$p} + $x' 2>/dev/null) || {
        echo "jk_enqueue: PAYLOAD_JSON / EXTRA_PARAMS_JSON must be JSON" >&2
        return 2
    }
    res=$(jk_call enqueue "$params") || return
    jq -r '.job.id' <<<"$res"
}

_jk_terminal() {
    case $1 in success | partial_success | failed | cancelled | skipped) return 0 ;; esac
    return 1
}

# _jk_watch ID TIMEOUT MODE(wait|follow): subscribe {ids:[ID]} on a connection kept open (a coproc
# socat), take the status from the `jobs` snapshot (follow: and the log so far, with `logs`), then
# read events until a terminal status.
# A dropped subscription or a lost connection is resumed with `since` = the last seq seen.
_jk_watch() (
    id=$1 timeout=${2:-0} mode=$3
    sock=$(jk_socket)
    [ -S "$sock" ] || { _jk_no_kernel; exit 3; }
    kinds='["job.status"]'
    [ "$mode" = follow ] && kinds='["job.status","job.progress","job.log","item.status"]'
    start=$SECONDS last="" partial="" reqno=0 spid="" rfd="" wfd="" connected=0 lastlog=0

    cleanup() {
        [ -n "$wfd" ] && exec {wfd}>&-
        [ -n "$rfd" ] && exec {rfd}<&-
        wfd="" rfd=""
        if [ -n "$spid" ]; then kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; fi
        spid=""
    }
    trap cleanup EXIT
    connect() {
        coproc JKW { exec socat - UNIX-CONNECT:"$sock" 2>/dev/null; }
        exec {rfd}<&"${JKW[0]}" {wfd}>&"${JKW[1]}"
        spid=$JKW_PID
    }
    subscribe() {
        reqno=$((reqno + 1))
        jq -cn --arg id "$id" --argjson k "$kinds" --argjson r "$reqno" --arg since "$last" \
            '{jsonrpc:"2.0",id:$r,method:"subscribe",
              params:({ids:[$id],kinds:$k} + (if $since == "" then {} else {since:($since|tonumber)} end))}' >&"$wfd"
    }
    # backlog: the lines logged before the subscription (`logs`, paged), printed once; live
    # job.log events up to the last line printed here are then skipped (by the log's own seq).
    backlog() {
        local since=0 page next
        while :; do
            page=$(jk_call logs "$(jq -cn --arg id "$id" --argjson s "$since" '{id:$id,since:$s,limit:1000}')") || return
            while IFS=$'\x1f' read -r lseq level msg; do
                [ -n "$lseq" ] || continue
                printf 'log %s %s\n' "$level" "$msg"
                lastlog=$lseq
            done < <(jq -r '.lines[] | "\(.seq)\u001f\(.level)\u001f\(.message | gsub("\n"; " "))"' <<<"$page")
            next=$(jq -r '.next // empty' <<<"$page")
            [ -n "$next" ] || return 0
            since=$next
        done
    }
    finish() { # STATUS
        [ "$mode" = wait ] && printf '%s\n' "$1"
        [ "$1" = success ] && exit 0
        exit 1
    }
    connect
    subscribe
    reconnects=0
    while :; do
        if [ "$timeout" != 0 ] && [ $((SECONDS - start)) -ge "$timeout" ]; then
            echo "jobkernel: job $id not terminal within ${timeout}s" >&2
            exit 124
        fi
        if IFS= read -r -t 1 line <&"$rfd"; then
            line=$partial$line partial=""
        else
            [ $? -gt 128 ] && { partial=$partial$line; continue; }
            partial=""
            # connection lost: reconnect and resume from the last seq seen
            cleanup
            [ "$connected" = 0 ] && { _jk_no_kernel; exit 3; }
            reconnects=$((reconnects + 1))
            [ "$reconnects" -gt 50 ] && { echo "jobkernel: connection lost" >&2; exit 3; }
            sleep 0.2
            connect
            subscribe
            continue
        fi
        rec=$(jq -r '
          if (.id != null) and has("result") then "R\u001f\(.result.seq)\u001f\(.result.jobs[0].status)\u001f\(.result.jobs[0].progress | "\(.current)\u001f\(.total)\u001f\(.percent)")"
          elif (.id != null) and has("error") then "E\u001f\(.error | tojson)"
          elif .method == "event" then .params as $p | "V\u001f\($p.seq)\u001f\($p.kind)\u001f" + (
            if $p.kind == "job.status" then "\($p.data.from)\u001f\($p.data.to)"
            elif $p.kind == "job.progress" then ($p.data.progress | "\(.current)\u001f\(.total)\u001f\(.percent)\u001f\(.phase // "")\u001f\(.message // "" | gsub("\n"; " "))")
            elif $p.kind == "job.log" then "\($p.data.seq)\u001f\($p.data.level)\u001f\($p.data.message | gsub("\n"; " "))"
            elif $p.kind == "item.status" then "\($p.data.index)\u001f\($p.data.from)\u001f\($p.data.to)"
            else "" end)
          elif .method == "subscription.dropped" then "D\u001f\(.params.last_seq)"
          else "X" end' <<<"$line" 2>/dev/null) || continue
        IFS=$'\x1f' read -r tag a b c d e f <<<"$rec"
        case $tag in
        R)
            connected=1 reconnects=0
            if [ -z "$last" ]; then
                last=$a
                [ "$mode" = follow ] && printf 'status %s\n' "$b"
                [ "$mode" = follow ] && [ "$c" != null ] && [ "$d" != null ] && printf 'progress %s/%s %s%%\n' "$c" "$d" "$e"
                [ "$mode" = follow ] && backlog
                _jk_terminal "$b" && finish "$b"
            fi
            ;;
        E)
            echo "$a" >&2
            exit 1
            ;;
        D) subscribe ;;
        V)
            [ -n "$last" ] && [ "$a" -le "$last" ] && continue
            last=$a
            case $b in
            job.status)
                [ "$mode" = follow ] && printf 'status %s -> %s\n' "$c" "$d"
                _jk_terminal "$d" && finish "$d"
                ;;
            job.progress)
                IFS=$'\x1f' read -r _ _ _ cur tot pct phase msg <<<"$rec"
                line="progress $cur"
                [ "$tot" != null ] && line="$line/$tot"
                [ "$pct" != null ] && line="$line ${pct}%"
                [ -n "$phase" ] && line="$line $phase"
                [ -n "$msg" ] && line="$line: $msg"
                printf '%s\n' "$line"
                ;;
            job.log)
                IFS=$'\x1f' read -r _ _ _ lseq level msg <<<"$rec"
                # a line the backlog already printed comes once only
                [ "$lseq" -le "$lastlog" ] && continue
                lastlog=$lseq
                printf 'log %s %s\n' "$level" "$msg"
                ;;
            item.status) printf 'item %s %s -> %s\n' "$c" "$d" "$e" ;;
            esac
            ;;
        esac
    done
)

jk_wait() {
    _jk_watch "${1:?usage: jk_wait ID [TIMEOUT_S]}" "${2:-0}" wait
}

jk_follow() {
    _jk_watch "${1:?usage: jk_follow ID [TIMEOUT_S]}" "${2:-0}" follow
}

# --- operations (docs/promises.md §8.6-8.7, 13) -----------------------------------------------------------

# jk_items ID [STATUS] → every item of the job, one compact JSON object per line
# ({index, value, status, attempt, result, error, started_at, finished_at}), paging through them.
jk_items() {
    local id=${1:?usage: jk_items ID [STATUS]} status=${2:-} since=-1 page params next
    while :; do
        params=$(jq -cn --arg id "$id" --arg s "$status" --argjson since "$since" \
            '{id:$id, since:$since, limit:1000} + (if $s == "" then {} else {status:$s} end)')
        page=$(jk_call items "$params") || return
        jq -c '.items[]' <<<"$page"
        next=$(jq -r '.next // empty' <<<"$page")
        [ -z "$next" ] && return 0
        since=$next
    done
}

# jk_remove ID... → prints how many finished jobs were removed (descendants included)
jk_remove() {
    [ $# -gt 0 ] || { echo "usage: jk_remove ID..." >&2; return 2; }
    local res
    res=$(jk_call remove "$(jq -cn '{ids: $ARGS.positional}' --args "$@")") || return
    jq -r '.removed' <<<"$res"
}

# jk_clean [FILTER_JSON] → prints how many finished jobs were removed;
# FILTER_JSON is {status?, type?, older_than_s?}, e.g. '{"status":["failed"],"older_than_s":86400}'
jk_clean() {
    local filter=${1:-'{}'} res
    res=$(JK_TIMEOUT=${JK_TIMEOUT:-600} jk_call clean "$filter") || return
    jq -r '.removed' <<<"$res"
}

# jk_pause [TYPE] / jk_resume [TYPE] → prints the paused.* settings after the change, one
# "key value" per line (resume without TYPE resumes everything)
jk_pause() { _jk_pause pause "${1:-}"; }
jk_resume() { _jk_pause resume "${1:-}"; }
_jk_pause() {
    local params='{}' res
    [ -n "$2" ] && params=$(jq -cn --arg t "$2" '{type:$t}')
    res=$(jk_call "$1" "$params") || return
    jq -r 'to_entries[] | select(.key | startswith("paused.")) | "\(.key) \(.value)"' <<<"$res"
}

# jk_enqueue_after TYPE PAYLOAD_JSON ID... → enqueues a job that waits until every ID succeeded
# (skipped if one does not); prints its id
jk_enqueue_after() {
    local type=${1:?usage: jk_enqueue_after TYPE PAYLOAD_JSON ID...} payload=${2:?usage: jk_enqueue_after TYPE PAYLOAD_JSON ID...}
    shift 2
    jk_enqueue "$type" "$payload" "$(jq -cn '{after: $ARGS.positional}' --args "$@")"
}
