"""GET /ws (JSON-RPC over WebSocket) and GET /metrics (Prometheus text) (docs/promises.md §14)."""

import json
import re
import shutil
import subprocess

import websockets.sync.client as wsclient

import web


def ws_connect(gateway, **kwargs):
    return wsclient.connect(f"ws://127.0.0.1:{gateway.port}/ws", additional_headers=gateway.auth(), open_timeout=5,
                            max_size=None, **kwargs)


def test_websocket_carries_json_rpc_one_message_per_frame(gateway, kernel):
    with ws_connect(gateway, origin=gateway.base) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "stats"}))
        answer = json.loads(ws.recv(timeout=5))
        assert answer["id"] == 1 and "seq" in answer["result"]
        ws.send(json.dumps([{"jsonrpc": "2.0", "id": 2, "method": "stats"}, {"jsonrpc": "2.0", "id": 3, "method": "nope"}]))
        batch = {a["id"]: a for a in json.loads(ws.recv(timeout=5))}
        assert "result" in batch[2] and batch[3]["error"]["code"] == -32601
        ws.send("{broken")
        assert json.loads(ws.recv(timeout=5))["error"]["code"] == -32700


def test_websocket_subscribe_streams_events(gateway, kernel):
    with ws_connect(gateway) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"kinds": ["job.created", "job.status"]}}))
        subscribed = json.loads(ws.recv(timeout=5))
        assert subscribed["id"] == 1 and subscribed["result"]["subscription"]
        job = kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}})["job"]
        seen = []
        while not any(e["params"]["kind"] == "job.status" and e["params"]["data"]["to"] == "success" for e in seen):
            message = json.loads(ws.recv(timeout=10))
            assert message["method"] == "event"
            seen.append(message)
        assert {e["params"]["job_id"] for e in seen} == {job["id"]}
        seqs = [e["params"]["seq"] for e in seen]
        assert seqs == sorted(seqs)


def test_websocket_closes_when_the_kernel_goes_away(gateway, kernel):
    with ws_connect(gateway) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "stats"}))
        ws.recv(timeout=5)
        kernel.stop()
        try:
            while True:
                ws.recv(timeout=10)
        except Exception as closed:  # ConnectionClosed
            assert "1012" in str(closed) or getattr(getattr(closed, "rcvd", None), "code", None) == 1012, closed


def test_metrics_are_valid_prometheus_text_with_the_promised_series(gateway, kernel):
    ids = [kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}})["job"]["id"] for _ in range(3)]
    failing = kernel.call("enqueue", {"type": "command", "payload": {"argv": ["false"]}, "max_attempts": 1})["job"]["id"]
    web.wait_for(lambda: kernel.call("get", {"id": failing})["status"] == "failed" and
                 all(kernel.call("get", {"id": i})["status"] == "success" for i in ids), what="the jobs to finish")
    kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}, "delay_s": 3600})

    def scrape():
        status, headers, body = gateway.request("GET", "/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
        return body.decode()

    text = web.wait_for(lambda: (lambda t: t if 'jobkernel_jobs_finished_total{type="command",status="failed"} 1' in t else None)(scrape()),
                        what="the finished counters")
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (scripts/install-deps does)"
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr

    def value(series):
        match = re.search(r"^" + re.escape(series) + r" (\S+)$", text, re.M)
        assert match, f"{series} is missing from /metrics:\n{text}"
        return float(match.group(1))

    seq = kernel.seq()
    assert value('jobkernel_jobs{status="success"}') == 3
    assert value('jobkernel_jobs{status="failed"}') == 1
    assert value('jobkernel_jobs{status="scheduled"}') == 1
    assert value('jobkernel_type_jobs{type="command",status="scheduled"}') == 1
    assert value('jobkernel_queue_depth{type="command"}') == 0
    assert value('jobkernel_running_units{where="local"}') == 0
    assert value('jobkernel_jobs_finished_total{type="command",status="success"}') == 3
    assert value('jobkernel_job_run_seconds_count{type="command"}') == 4
    assert value('jobkernel_job_run_seconds_bucket{type="command",le="+Inf"}') == 4
    assert 0 < value('jobkernel_job_run_seconds_sum{type="command"}') < 60
    assert value("jobkernel_event_seq") == seq
    assert value("jobkernel_kernel_up") == 1


def test_metrics_say_when_the_kernel_is_down_and_counters_survive_a_restart(gateway, kernel):
    kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}})
    finished = 'jobkernel_jobs_finished_total{type="command",status="success"} '
    web.wait_for(lambda: finished + "1" in gateway.request("GET", "/metrics")[2].decode(), what="one success counted")
    kernel.stop()
    status, _, body = gateway.request("GET", "/metrics")
    assert status == 200 and "jobkernel_kernel_up 0" in body.decode()
    kernel.start()
    kernel.call("enqueue", {"type": "command", "payload": {"argv": ["true"]}})
    web.wait_for(lambda: finished + "2" in gateway.request("GET", "/metrics")[2].decode(), timeout=15,
                 what="the second success counted once, after the restart")
