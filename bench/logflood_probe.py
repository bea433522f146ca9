"""Another client of a flooded kernel (bench/logflood.sh): one connection, one `enqueue` in flight,
for SECS seconds or, with a job id, until that job ends. Prints `p50_ms p99_ms max_ms samples`."""
import json
import socket
import sys
import time

sock_path, secs, job = sys.argv[1], float(sys.argv[2]), (sys.argv[3] if len(sys.argv) > 3 else None)
s = socket.socket(socket.AF_UNIX)
s.connect(sock_path)
f = s.makefile("rb")
n = 0


def call(method, params):
    global n
    n += 1
    s.sendall(json.dumps({"jsonrpc": "2.0", "id": n, "method": method, "params": params}).encode() + b"\n")
    msg = json.loads(f.readline())
    if "error" in msg:
        raise SystemExit(f"{method}: {msg['error']}")
    return msg["result"]


lat = []
end = time.monotonic() + secs
while time.monotonic() < end:
    t0 = time.perf_counter()
    call("enqueue", {"type": "bench", "payload": {"n": len(lat)}})
    lat.append(time.perf_counter() - t0)
    if job and len(lat) % 50 == 0 and call("get", {"id": job})["status"] in ("success", "failed"):
        break
lat.sort()
print(f"{lat[len(lat) // 2] * 1000:.2f} {lat[int(len(lat) * 0.99)] * 1000:.2f} {lat[-1] * 1000:.2f} {len(lat)}")
