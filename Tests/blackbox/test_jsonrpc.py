"""docs/promises.md §4: JSON-RPC 2.0 conventions (the JSON-RPC spec's own examples, adapted to real methods)."""

import json

import pytest

import jk
from jk import assert_error


def raw(c, text):
    c.send_raw(text.encode() + b"\n")


def sentinel(c, id="sentinel"):
    """Send a request and assert it is the very next message on the wire (proves nothing else came)."""
    c.request("stats", id=id)
    msg = c.recv_message()
    assert msg.get("id") == id and "result" in msg, f"expected only the sentinel's answer, got {msg!r}"


def test_notification_gets_no_reply_but_is_executed(kernel):
    c = kernel.client()
    c.notify("enqueue", {"type": "remote", "payload": {"via": "notification"}})
    sentinel(c)
    jobs = c.call("list", {})["jobs"]
    assert [j["payload"] for j in jobs] == [{"via": "notification"}]


def test_failing_notification_gets_no_reply(kernel):
    c = kernel.client()
    c.notify("no_such_method", {})
    c.notify("get", {"id": "999999"})
    c.notify("enqueue", {"type": "no_such_type"})
    sentinel(c)


def test_batch_mixed(kernel):
    c = kernel.client()
    job = jk.enqueue(c)
    raw(c, json.dumps([
        {"jsonrpc": "2.0", "method": "get", "params": {"id": job["id"]}, "id": "1"},
        {"jsonrpc": "2.0", "method": "log", "params": {"id": job["id"], "message": "x"}},  # notification
        {"jsonrpc": "2.0", "method": "no_such_method", "params": {}, "id": "5"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "stats", "params": {}, "id": "9"},
    ]))
    msg = c.recv_message()
    assert isinstance(msg, list), msg
    by_id = {}
    nulls = []
    for r in msg:
        if r["id"] is None:
            nulls.append(r)
        else:
            by_id[r["id"]] = r
    assert set(by_id) == {"1", "5", "9"}
    assert by_id["1"]["result"]["id"] == job["id"]
    assert_error(by_id["5"], -32601, "method_not_found")
    assert "result" in by_id["9"]
    assert len(nulls) == 1
    assert_error(nulls[0], -32600, "invalid_request")


def test_batch_of_only_notifications_gets_no_reply(kernel):
    c = kernel.client()
    raw(c, json.dumps([
        {"jsonrpc": "2.0", "method": "stats", "params": {}},
        {"jsonrpc": "2.0", "method": "enqueue", "params": {"type": "remote"}},
    ]))
    sentinel(c)
    assert len(c.call("list", {})["jobs"]) == 1


def test_empty_batch_is_invalid_request(kernel):
    c = kernel.client()
    raw(c, "[]")
    msg = c.recv_message()
    assert isinstance(msg, dict), f"empty batch must get a single error object, got {msg!r}"
    assert_error(msg, -32600, "invalid_request", id=None)


def test_batch_of_non_objects_gets_one_error_each(kernel):
    c = kernel.client()
    raw(c, "[1,2,3]")
    msg = c.recv_message()
    assert isinstance(msg, list) and len(msg) == 3, msg
    for r in msg:
        assert_error(r, -32600, "invalid_request", id=None)


def test_batch_with_one_non_object(kernel):
    c = kernel.client()
    raw(c, "[1]")
    msg = c.recv_message()
    assert isinstance(msg, list) and len(msg) == 1, msg
    assert_error(msg[0], -32600, id=None)


def test_invalid_json_batch_is_parse_error(kernel):
    c = kernel.client()
    raw(c, '[{"jsonrpc":"2.0","method":"stats","params":{},"id":"1"},{"jsonrpc":"2.0","method"]')
    assert_error(c.recv_message(), -32700, "parse_error", id=None)


@pytest.mark.parametrize("text", [
    '{"jsonrpc":"2.0","method":1,"params":"bar"}',
    '{"jsonrpc":"2.0","method":"stats","params":"bar","id":1}',
    '{"jsonrpc":"1.0","method":"stats","id":1}',
    '{"method":"stats","id":1}',
    '{"jsonrpc":"2.0","id":1}',
    '{"jsonrpc":"2.0","method":"stats","id":{"a":1}}',
    '{"jsonrpc":"2.0","method":"stats","id":[1]}',
    '"just a string"',
    '42',
])
def test_invalid_request_objects(kernel, text):
    c = kernel.client()
    raw(c, text)
    msg = c.recv_message()
    assert_error(msg, -32600, "invalid_request")
    # JSON-RPC: the id if it could be read (and is a valid id), else null
    assert msg["id"] in (None, 1), msg
    sentinel(c)


@pytest.mark.parametrize("id", ["abc", "", 7, 0, -3, None])
def test_ids_string_number_null_echoed(kernel, id):
    c = kernel.client()
    raw(c, json.dumps({"jsonrpc": "2.0", "method": "stats", "params": {}, "id": id}))
    msg = c.recv_message()
    assert "id" in msg and msg["id"] == id and type(msg["id"]) is type(id), msg
    assert "result" in msg


def test_error_response_echoes_id(kernel):
    c = kernel.client()
    raw(c, json.dumps({"jsonrpc": "2.0", "method": "get", "params": {"id": "999999"}, "id": "q-1"}))
    msg = c.recv_message()
    assert msg["id"] == "q-1"
    assert_error(msg, -32001, "not_found")


def test_method_not_found(kernel):
    c = kernel.client()
    e = c.call_error("frobnicate", {})
    assert e.code == -32601 and e.reason == "method_not_found"
    assert isinstance(e.message, str) and e.message


def test_dollar_notifications_are_ignored(kernel):
    c = kernel.client()
    c.notify("$/cancelRequest", {"id": 1})
    c.notify("$/setTrace", {"value": "off"})
    c.notify("$/anything")
    sentinel(c)


def test_dollar_requests_are_method_not_found(kernel):
    c = kernel.client()
    e = c.call_error("$/foo", {})
    assert e.code == -32601 and e.reason == "method_not_found"
    e = c.call_error("$/cancelRequest", {"id": 1})
    assert e.code == -32601


def test_positional_params_are_invalid_params(kernel):
    c = kernel.client()
    job = jk.enqueue(c)
    e = c.call_error("get", [job["id"]])
    assert e.code == -32602 and e.reason == "invalid_params"


def test_unknown_param_names_the_field(kernel):
    c = kernel.client()
    e = c.call_error("enqueue", {"type": "remote", "bogus_field": 1})
    assert e.code == -32602 and e.reason == "invalid_params"
    assert e.data.get("field") == "bogus_field", e.data
    assert c.call("list", {})["jobs"] == []


@pytest.mark.parametrize("method,params,field", [
    ("enqueue", {"type": 5}, "type"),
    ("enqueue", {"type": "remote", "priority": "high"}, "priority"),
    ("enqueue", {"type": "remote", "items": "abc"}, "items"),
    ("list", {"limit": "ten"}, "limit"),
    ("get", {"id": {"x": 1}}, "id"),
    ("log", {"id": "1", "message": 12}, "message"),
])
def test_wrong_param_type_is_invalid_params(kernel, method, params, field):
    c = kernel.client()
    e = c.call_error(method, params)
    assert e.code == -32602, e
    # docs/promises.md §4: "where it helps, the offending field" — we expect it for type errors too.
    assert e.data.get("field") == field, e.data


def test_missing_required_param(kernel):
    c = kernel.client()
    assert c.call_error("get", {}).code == -32602
    assert c.call_error("enqueue", {}).code == -32602


def test_items_must_be_non_empty(kernel):
    c = kernel.client()
    e = c.call_error("enqueue", {"type": "remote", "items": []})
    assert e.code == -32602


# -- check order: shape (-32600) before method (-32601) before params (-32602) before the call

def test_shape_checked_before_method(kernel):
    c = kernel.client()
    raw(c, '{"method":"no_such_method","id":1}')  # no "jsonrpc"
    assert_error(c.recv_message(), -32600)
    raw(c, '{"jsonrpc":"2.0","method":"no_such_method","params":5,"id":2}')  # params not structured
    assert_error(c.recv_message(), -32600)


def test_method_checked_before_params(kernel):
    c = kernel.client()
    e = c.call_error("no_such_method", [1, 2])
    assert e.code == -32601
    e = c.call_error("no_such_method", {"bogus": 1})
    assert e.code == -32601


def test_params_checked_before_the_call(kernel):
    c = kernel.client()
    e = c.call_error("get", {"id": "999999", "bogus": 1})
    assert e.code == -32602, "unknown param must win over not_found"
    e = c.call_error("enqueue", {"type": "no_such_type", "bogus": 1})
    assert e.code == -32602, "unknown param must win over unknown_type"
    e = c.call_error("retry", {"id": "999999", "extra": True})
    assert e.code == -32602


def test_errors_carry_a_reason(kernel):
    c = kernel.client()
    for method, params in [("frobnicate", {}), ("get", {"id": "424242"}), ("enqueue", {"type": "nope"}), ("get", [1])]:
        e = c.call_error(method, params)
        assert isinstance(e.data, dict) and isinstance(e.data.get("reason"), str), (method, e.data)
        assert e.data["reason"].islower() and " " not in e.data["reason"]
