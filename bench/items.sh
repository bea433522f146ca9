#!/usr/bin/env bash
# bench/items.sh — one itemized job at scale (docs/promises.md §5, §10 max_items):
#   1. enqueue ONE job of an async_api type with N items (default 100,000) in a single call and
#      time the call (the answer means the job and all its items are committed);
#   2. sample the kernel's memory (VmRSS, and VmHWM = peak RSS) from /proc while it runs;
#   3. drain the job with a fetch/ack loop (a small python3 client: fetch max 1000, acks pipelined)
#      and report units/s, then check the job ended `success` with every item counted.
#
#   bench/items.sh                  # release build: reuses .build/release/jobkernel, else builds it
#   ITEMS=20000 bench/items.sh      # another size (≤ limits.max_items = 100000)
#   JOBKERNEL_BIN=/path/to/jobkernel bench/items.sh
#   BENCH_CONNS=2 bench/items.sh    # drain with 2 worker connections (default 1)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ITEMS=${ITEMS:-100000}
CONNS=${BENCH_CONNS:-1}
BIN=${JOBKERNEL_BIN:-$ROOT/.build/release/jobkernel}
if [ ! -x "$BIN" ]; then
  [ -z "${JOBKERNEL_BIN:-}" ] || { echo "JOBKERNEL_BIN=$BIN is not executable" >&2; exit 1; }
  echo "building the release binary (swift build -c release)…" >&2
  (cd "$ROOT" && swift build -c release >&2)
fi
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }

TMP=$(mktemp -d /tmp/jk-items.XXXXXX)
KPID=
cleanup() {
  if [ -n "$KPID" ] && kill -0 "$KPID" 2>/dev/null; then kill -TERM "$KPID"; wait "$KPID" || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

cat >"$TMP/jobkernel.toml" <<'EOF'
[types.bench]
mode = "async_api"
max_attempts = 3
EOF

"$BIN" serve --socket "$TMP/k.sock" --db "$TMP/jobs.db" --config "$TMP/jobkernel.toml" 2>"$TMP/kernel.log" &
KPID=$!
for _ in $(seq 200); do [ -S "$TMP/k.sock" ] && break; sleep 0.05; done
[ -S "$TMP/k.sock" ] || { echo "kernel did not start" >&2; cat "$TMP/kernel.log" >&2; exit 1; }

cat >"$TMP/client.py" <<'EOF'
import json, os, socket, sys, threading, time

SOCK, PID, N, CONNS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def mem():
    out = {}
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":")
                out[k] = int(v.split()[0])  # kB
    return out

class Conn:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(SOCK)
        self.buf = b""
        self.next_id = 0

    def send(self, reqs):
        out = []
        for method, params in reqs:
            self.next_id += 1
            out.append(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params},
                                  separators=(",", ":")))
        self.s.sendall(("\n".join(out) + "\n").encode())

    def recv(self, n):
        """n responses (any order), as a dict id -> message."""
        got = {}
        while len(got) < n:
            i = self.buf.find(b"\n")
            if i < 0:
                chunk = self.s.recv(1 << 20)
                if not chunk:
                    raise SystemExit("kernel closed the connection")
                self.buf += chunk
                continue
            line, self.buf = self.buf[:i], self.buf[i + 1:]
            if line.strip():
                m = json.loads(line)
                if "error" in m:
                    raise SystemExit(f"error: {m}")
                got[m["id"]] = m
        return got

    def call(self, method, params):
        self.send([(method, params)])
        return self.recv(1)[self.next_id]["result"]

# peak memory sampler (VmHWM is the kernel's own peak; VmRSS sampled every 50 ms)
samples, stop = [], threading.Event()
def sampler():
    while not stop.is_set():
        try:
            samples.append((time.monotonic(), mem()["VmRSS"]))
        except OSError:
            return
        time.sleep(0.05)
threading.Thread(target=sampler, daemon=True).start()

base = mem()
items = [{"file": f"upload/IMG_{i:06}.jpg", "size": 1000 + i % 5000} for i in range(N)]
body_bytes = len(json.dumps(items, separators=(",", ":")))
c = Conn()
t0 = time.monotonic()
job = c.call("enqueue", {"type": "bench", "payload": {"project": "bench"}, "items": items})["job"]
t_enq = time.monotonic() - t0
assert job["items"]["total"] == N and job["items"]["pending"] == N, job["items"]
after_enq = mem()

# drain: each connection fetches up to 1000 units and acks them, the acks and its next fetch
# pipelined in one write
done = [0] * CONNS
order_ok = [True] * CONNS
def drain(k):
    c = Conn()
    c.send([("fetch", {"types": ["bench"], "max": 1000, "wait_s": 1, "lease_s": 600})])
    m = c.recv(1)[c.next_id]
    while True:
        leases = m["result"]["leases"]
        if not leases:
            return
        idx = [l["item"]["index"] for l in leases]
        if idx != sorted(idx):
            order_ok[k] = False
        c.send([("ack", {"lease": l["lease"]}) for l in leases] +
               [("fetch", {"types": ["bench"], "max": 1000, "wait_s": 1, "lease_s": 600})])
        fetch_id = c.next_id
        got = c.recv(len(leases) + 1)
        assert all(v["result"] is True for i, v in got.items() if i != fetch_id)
        done[k] += len(leases)
        m = got[fetch_id]

t1 = time.monotonic()
threads = [threading.Thread(target=drain, args=(k,)) for k in range(CONNS)]
for t in threads: t.start()
for t in threads: t.join()
t_drain = time.monotonic() - t1 - 1.0  # each drainer's last fetch waited wait_s = 1 s for nothing
final = c.call("get", {"id": job["id"]})
stop.set()
peak = mem()
print(json.dumps({
    "items": N, "request_bytes": body_bytes,
    "enqueue_s": round(t_enq, 3), "enqueue_items_per_s": round(N / t_enq),
    "rss_start_mib": round(base["VmRSS"] / 1024, 1),
    "rss_after_enqueue_mib": round(after_enq["VmRSS"] / 1024, 1),
    "peak_rss_mib": round(peak["VmHWM"] / 1024, 1),
    "drained": sum(done), "drain_s": round(t_drain, 2), "units_per_s": round(sum(done) / t_drain),
    "fetch_order_ok": all(order_ok), "final_status": final["status"], "final_items": final["items"],
}))
EOF

echo "jobkernel: $BIN" >&2
echo "items: $ITEMS, drain connections: $CONNS" >&2
python3 "$TMP/client.py" "$TMP/k.sock" "$KPID" "$ITEMS" "$CONNS" >"$TMP/result.json"
python3 - "$TMP/result.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"enqueue of one job with {r['items']:,} items ({r['request_bytes'] / 1e6:.1f} MB request): "
      f"{r['enqueue_s']:.2f} s ({r['enqueue_items_per_s']:,} items/s)")
print(f"kernel RSS: {r['rss_start_mib']} MiB at start, {r['rss_after_enqueue_mib']} MiB after the enqueue, "
      f"peak (VmHWM) {r['peak_rss_mib']} MiB")
print(f"drain (fetch max 1000 + pipelined acks): {r['drained']:,} units in {r['drain_s']:.2f} s = "
      f"{r['units_per_s']:,} units/s; index order per fetch: {'ok' if r['fetch_order_ok'] else 'NOT ok'}")
print(f"job: {r['final_status']} {json.dumps(r['final_items'])}")
ok = r["final_status"] == "success" and r["final_items"]["success"] == r["items"] and r["fetch_order_ok"]
sys.exit(0 if ok else 1)
EOF
