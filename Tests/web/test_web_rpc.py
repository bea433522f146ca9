"""POST /rpc (docs/promises.md §14): a JSON-RPC request or batch, answered as the kernel answers it."""

import json
import socket
import threading
import time

import web


def test_request_is_answered_as_the_kernel_answers(gateway, kernel):
    job = gateway.rpc("enqueue", {"type": "command", "payload": {"argv": ["true"]}})["job"]
    assert job["id"] == kernel.call("get", {"id": job["id"]})["id"]
    status, headers, body = gateway.request("POST", "/rpc", {"jsonrpc": "2.0", "id": "abc", "method": "get", "params": {"id": job["id"]}})
    assert status == 200 and headers["content-type"].startswith("application/json")
    answer = json.loads(body)
    assert answer["id"] == "abc" and answer["result"]["type"] == "command"


def test_errors_keep_the_kernels_codes_and_ids(gateway):
    cases = [
        ({"jsonrpc": "2.0", "id": 7, "method": "no.such.method"}, -32601, 7),
        ({"jsonrpc": "2.0", "id": 8, "method": "get", "params": {"id": "999999"}}, -32001, 8),
        ({"jsonrpc": "2.0", "id": 9, "method": "get", "params": [1]}, -32602, 9),
    ]
    for request, code, id_ in cases:
        status, _, body = gateway.request("POST", "/rpc", request)
        answer = json.loads(body)
        assert status == 200 and answer["error"]["code"] == code and answer["id"] == id_, answer
    status, _, body = gateway.request("POST", "/rpc", b"{not json", headers={"Content-Type": "application/json"})
    assert status == 200 and json.loads(body)["error"]["code"] == -32700


def test_a_batch_gets_a_batch_and_notifications_get_no_content(gateway):
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "stats"},
        {"jsonrpc": "2.0", "method": "stats"},
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
    ]
    status, _, body = gateway.request("POST", "/rpc", batch)
    answers = {a["id"]: a for a in json.loads(body)}
    assert status == 200 and set(answers) == {1, 2}
    assert "result" in answers[1] and answers[2]["error"]["code"] == -32601
    status, _, body = gateway.request("POST", "/rpc", {"jsonrpc": "2.0", "method": "stats"})
    assert status == 204 and body == b""
    status, _, body = gateway.request("POST", "/rpc", [])
    assert json.loads(body)["error"]["code"] == -32600


def test_a_pretty_printed_body_with_newlines_is_one_request(gateway):
    body = json.dumps({"jsonrpc": "2.0", "id": 3, "method": "settings.get", "params": {}}, indent=2).encode()
    assert b"\n" in body
    status, _, answer = gateway.request("POST", "/rpc", body, headers={"Content-Type": "application/json"})
    assert status == 200 and json.loads(answer)["id"] == 3


def test_the_kernel_down_is_a_503_that_says_what_to_do(gateway, kernel):
    kernel.stop()
    status, _, body = gateway.request("POST", "/rpc", {"jsonrpc": "2.0", "id": 1, "method": "stats"})
    assert status == 503 and b"jobkernel serve" in body


def _latencies_of_other_clients(gateway, stop, out):
    # The gateway's own page, which needs no kernel: a kernel busy parsing 10 MiB is not the
    # gateway's doing, a gateway that stalls its other connections would be.
    while not stop.is_set():
        started = time.monotonic()
        status, _, _ = gateway.request("GET", "/app.js", timeout=10)
        out.append((status, time.monotonic() - started))
        time.sleep(0.02)


def test_a_10_mib_body_does_not_hurt_other_clients(gateway):
    stop, latencies = threading.Event(), []
    other = threading.Thread(target=_latencies_of_other_clients, args=(gateway, stop, latencies))
    other.start()
    try:
        payload = {"argv": ["true"], "blob": "x" * (10 << 20)}
        status, _, body = gateway.request(
            "POST", "/rpc", {"jsonrpc": "2.0", "id": 1, "method": "enqueue", "params": {"type": "command", "payload": payload}},
            timeout=60)
        answer = json.loads(body)
        # The kernel refuses a payload over max_payload_bytes (1 MiB) — its answer, passed on.
        assert status == 200 and answer["error"]["code"] == -32602 and answer["error"]["data"]["reason"] == "too_large", answer
        # Over the gateway's own limit (16 MiB) the body is refused before the kernel sees it.
        status, _, body = gateway.request("POST", "/rpc", b"[" + b" " * (17 << 20) + b"]",
                                          headers={"Content-Type": "application/json"}, timeout=60)
        assert status == 413 and b"over" in body
    finally:
        time.sleep(0.2)
        stop.set()
        other.join()
    assert latencies and all(s == 200 for s, _ in latencies)
    print("other clients latencies, worst 5:", sorted(t for _, t in latencies)[-5:])
    assert max(t for _, t in latencies) < 0.5, sorted(t for _, t in latencies)[-5:]


def test_a_slow_loris_does_not_hurt_other_clients(gateway):
    loris = []
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", gateway.port), timeout=5)
        s.sendall(f"POST /rpc HTTP/1.1\r\nHost: {gateway.host}\r\n".encode())
        loris.append(s)
    try:
        for round_ in range(5):
            for s in loris:
                s.sendall(f"X-Slow-{round_}: a\r\n".encode())  # a header line now and then, never the end
            started = time.monotonic()
            result = gateway.rpc("stats")
            assert time.monotonic() - started < 1.0 and "seq" in result
            time.sleep(0.1)
    finally:
        for s in loris:
            s.close()
