"""Limits on everyone (docs/web.md, "Limits"): the head deadline (first request included), the idle
deadline of a request body, the cap on request-body bytes in flight, the cap on streams per token.
Raw sockets, so that nothing between the test and the gateway finishes a request on its own."""

import json
import socket
import threading
import time

import pytest

import web


def closed_after(sock, limit):
    """Seconds until the gateway closes `sock` (reads return b"" or reset), or None past `limit`."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - start
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - start
    return None


def connect(gateway):
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=10)


def trickle(sock, data, stop, every=1.0):
    """Sends `data` a byte every `every` seconds until it is all sent, the socket fails, or `stop`."""
    for byte in data:
        if stop.wait(every):
            return
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return


def test_a_request_head_must_arrive_within_10_s_first_request_included(gateway):
    """Hole: the first gateway had no deadline before the first head; these stayed open past 60 s."""
    stop = threading.Event()
    head = f"GET /metrics HTTP/1.1\r\nHost: {gateway.host}\r\nAuthorization: Bearer {gateway.token}\r\n\r\n".encode()
    silent, slow, idle = connect(gateway), connect(gateway), connect(gateway)
    # A keep-alive connection that got its answer waits for the next head under the same deadline.
    idle.sendall(head)
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += idle.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
    start = time.monotonic()
    threading.Thread(target=trickle, args=(slow, head, stop), daemon=True).start()  # a byte a second: 150 s
    try:
        results = {}

        def watch(name, sock):
            results[name] = closed_after(sock, 16)

        watchers = [threading.Thread(target=watch, args=(n, s)) for n, s in (("silent", silent), ("slow", slow), ("idle", idle))]
        for w in watchers:
            w.start()
        for w in watchers:
            w.join(20)
        for name in ("silent", "slow", "idle"):
            assert results.get(name) is not None, f"the {name} connection was still open 16 s later"
            assert 8.5 <= results[name] <= 12.5, f"the {name} connection closed after {results[name]:.1f} s, not ~10 s"
        assert time.monotonic() - start < 15
        # The gateway still serves.
        assert gateway.request("GET", "/metrics")[0] == 200
    finally:
        stop.set()
        for s in (silent, slow, idle):
            s.close()


def test_a_request_body_that_stops_for_30_s_closes_the_connection(gateway):
    sock = connect(gateway)
    try:
        sock.sendall((f"POST /rpc HTTP/1.1\r\nHost: {gateway.host}\r\nAuthorization: Bearer {gateway.token}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"jsonrpc\"").encode())
        # A head on time and a body that keeps coming a byte every 5 s is not idle...
        for _ in range(2):
            time.sleep(5)
            sock.sendall(b" ")
        # ...and one that stops is, 30 s later.
        after = closed_after(sock, 40)
        assert after is not None and 27 <= after <= 34, after
    finally:
        sock.close()


def post_head(gateway, length):
    sock = connect(gateway)
    sock.sendall((f"POST /rpc HTTP/1.1\r\nHost: {gateway.host}\r\nAuthorization: Bearer {gateway.token}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode() + b"[" + b" " * 1000)
    return sock


def read_answer(sock, timeout=10):
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_request_bodies_in_flight_are_capped_at_64_mib(gateway, kernel):
    """Hole: twelve 16 MB posts took the first gateway from 33 to 329 MB. Four bodies of 16 MiB
    fill the budget; a fifth is refused at once with 503 and Retry-After, before its body comes."""
    big = 16 << 20
    holders = [post_head(gateway, big) for _ in range(4)]
    try:
        time.sleep(1)  # let the four reach their handler and reserve
        fifth = post_head(gateway, big)
        answer = read_answer(fifth)
        fifth.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
        assert b"retry-after: 1" in answer.lower() and b"x-content-type-options: nosniff" in answer.lower()
        # A body over 16 MiB is 413 whatever the budget.
        over = post_head(gateway, big + 1)
        assert read_answer(over).startswith(b"HTTP/1.1 413")
        over.close()
    finally:
        for s in holders:
            s.close()
    # Bodies that ended give their bytes back: four more are taken (they wait for their bodies,
    # unanswered), and a fifth is refused again.
    again = [post_head(gateway, big) for _ in range(4)]
    try:
        time.sleep(1)
        for sock in again:
            sock.settimeout(0.5)
            with pytest.raises(socket.timeout):
                sock.recv(100)
        fifth = post_head(gateway, big)
        assert read_answer(fifth).startswith(b"HTTP/1.1 503")
        fifth.close()
    finally:
        for sock in again:
            sock.close()


@pytest.fixture
def capped(kernel, home):
    g = web.Gateway(home, kernel.socket, extra=["--max-streams", "2"])
    yield g
    g.stop()


def test_streams_per_token_are_capped_with_429(capped):
    import websockets.sync.client as ws
    first = web.SSE(capped)
    first.wait(lambda s: any(e["event"] == "subscribed" for e in s.events), what="the first stream")
    with ws.connect(f"ws://127.0.0.1:{capped.port}/ws", additional_headers=capped.auth(), origin=capped.base,
                    open_timeout=5):
        third = web.SSE(capped)
        third.wait(lambda x: x.status is not None, what="an answer")
        assert third.status == 429 and b"--max-streams" in third.body, (third.status, third.body)
        third.close()
        with pytest.raises(Exception) as refused:
            ws.connect(f"ws://127.0.0.1:{capped.port}/ws", additional_headers=capped.auth(), origin=capped.base, open_timeout=5)
        assert "HTTP 429" in str(refused.value), refused.value
        # Other requests go on.
        assert capped.request("GET", "/metrics")[0] == 200

    # A closed WebSocket gives its slot back.
    def a_slot():
        stream = web.SSE(capped)
        stream.wait(lambda x: x.status is not None, timeout=5, what="an answer")
        if stream.status == 200:
            return stream
        stream.close()
        return None

    web.wait_for(a_slot, timeout=10, interval=0.2, what="a slot to come back").close()
    first.close()


def test_sigterm_stops_the_gateway_at_once_with_streams_and_idle_connections_open(gateway):
    """An event stream and a WebSocket never end by themselves; neither does a connection that
    sends nothing. SIGTERM ends them all (the WebSocket with a close frame) and the gateway exits."""
    import signal
    import websockets.sync.client as ws
    stream = web.SSE(gateway)
    stream.wait(lambda s: any(e["event"] == "subscribed" for e in s.events), what="the stream")
    silent = connect(gateway)
    with ws.connect(f"ws://127.0.0.1:{gateway.port}/ws", additional_headers=gateway.auth(), origin=gateway.base,
                    open_timeout=5) as socket_stream:
        socket_stream.send('{"jsonrpc":"2.0","id":1,"method":"stats"}')
        assert '"seq"' in socket_stream.recv(timeout=5)
        started = time.monotonic()
        gateway.proc.send_signal(signal.SIGTERM)
        gateway.proc.wait(timeout=10)
        took = time.monotonic() - started
        assert took < 3, f"the gateway took {took:.1f} s to stop"
        assert gateway.proc.returncode == 0
        with pytest.raises(Exception):
            socket_stream.recv(timeout=5)
        assert socket_stream.close_code in (1000, 1001), f"a close frame, not a dropped connection: {socket_stream.close_code}"
    stream.read_until_closed(timeout=5)
    assert closed_after(silent, 2) is not None
    silent.close()
    stream.close()
