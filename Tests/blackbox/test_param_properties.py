"""docs/promises.md §10, driven by protocol/openrpc.json: every parameter of every method has a documented type
and range, and the kernel keeps to it.

For every method the document lists (so a new method is covered without a new test) and every
parameter, the test sends values of every JSON type and the edges of each range, one parameter at a
time, the required ones kept at valid base values. The parameter's schema (checked with jsonschema)
decides what the answer must be:

- invalid: -32602 whose data.field names the parameter (its first dotted component);
- valid: anything but a -32602 naming the parameter (-32001, -32005 and so on are fine).

An explicit null counts as absent for an optional parameter (protocol.md). A few parameters have a
bound that depends on the kernel's state, documented in their descriptions: a valid value may still
be -32602 there, but only with the documented message (STATE_DEPENDENT).

Each method gets its own kernel; requests are pipelined. After each method's cases the kernel must
still run and answer a second connection. The number of cases run is printed.
"""

import json
import os

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

import jk

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = json.load(open(os.path.join(ROOT, "protocol", "openrpc.json"), encoding="utf-8"))
METHODS = {m["name"]: m for m in DOC["methods"]}

# shutdown stops the kernel, so it cannot share one with other cases; it takes no parameters, and
# test_jsonrpc.py covers its unknown-parameter answer.
SKIPPED = {"shutdown"}

MIB = 1 << 20

# The deterministic table of edge values every parameter gets (plus edges drawn from its schema).
EDGES = [
    None, True, False,
    0, 1, -1, 2**31, -(2**31) - 1, 2**32, 2**53, 2**63, -(2**63) - 1,
    1e308, -1e308, -0.0, 1.5, 0.001,
    "", "0", "1", "-1", "NaN", "nan", "Infinity", "-Infinity", "1e308", "null", "true", "x", " 1",
    "x" * MIB,
    "2026-11-23T09:31:50Z", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "10000-01-01T00:00:00Z",
    "2026-01-01T25:00:00Z", "0000-01-01T00:00:00Z",
    [], [1], ["a"], [None], [[["deep"]]], [{}],
    {}, {"a": {"b": [1, {"c": None}]}}, {"message": "m"}, {"name": "n"},
]

# (method, param): what the -32602 of a schema-valid value must say, where the bound depends on
# the kernel's state (the latest seq, the job's items, the connection's subscriptions, the clock).
STATE_DEPENDENT = {
    ("progress", "item"): "is not an item index",
    ("subscribe", "since"): "is above the latest seq",
    ("unsubscribe", "subscription"): "no subscription",
    ("enqueue", "delay_s"): "gives a time past 9999-12-31",
}

UNKNOWN = "zz_not_a_param"


# -- the document's schemas

def _max_bytes(validator, limit, instance, schema):
    """x-maxBytes: a string parameter's UTF-8 bytes, any other parameter's compact JSON text."""
    if schema.get("type") == "string":
        if not isinstance(instance, str):
            return
        size = len(instance.encode("utf-8"))
    else:
        size = len(json.dumps(instance, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > limit:
        yield jsonschema.ValidationError(f"{size} bytes, over x-maxBytes {limit}")


Validator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"x-maxBytes": _max_bytes})
URI = "urn:jobkernel:openrpc"
REGISTRY = Registry().with_resource(URI, Resource.from_contents(DOC, default_specification=DRAFT7))


def validator(schema):
    schema = json.loads(json.dumps(schema).replace('"$ref": "#/', f'"$ref": "{URI}#/'))
    return Validator(schema, registry=REGISTRY, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def resolve(schema):
    while isinstance(schema, dict) and "$ref" in schema:
        node = DOC
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        schema = node
    return schema


def schema_edges(schema, depth=0):
    """Values at the edges the schema itself names: enum members, bounds and one beyond, lengths."""
    schema = resolve(schema)
    if not isinstance(schema, dict) or depth > 4:
        return []
    out = list(schema.get("enum", []))
    if "default" in schema:
        out.append(schema["default"])
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in schema:
            bound = schema[key]
            out += [bound, bound - 1, bound + 1]
    for key in ("maxLength", "x-maxBytes"):
        if key in schema and schema.get("type") == "string":
            out += ["k" * schema[key], "k" * (schema[key] + 1)]
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(key, []):
            out += schema_edges(sub, depth + 1)
    if "items" in schema:
        out += [[v] for v in schema_edges(schema["items"], depth + 1)[:4]]
    return out


def values_for(schema):
    seen, out = set(), []
    for v in EDGES + schema_edges(schema):
        key = json.dumps(v, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


# -- base values: a valid value for every required parameter, on a kernel prepared for the method

def _running_items_job(c):
    job = jk.enqueue(c, items=[1, 2, 3])
    leases = c.call("fetch", {"types": "remote", "lease_s": 86400})["leases"]
    assert leases and leases[0]["job"]["id"] == job["id"]
    return job["id"]


def prepare(method, c):
    """The base params of `method` (its required parameters, all valid) on a kernel set up for it."""
    if method == "remove":
        job = jk.enqueue(c)
        c.call("cancel", {"id": job["id"]})
        return {"ids": [job["id"]]}
    if method in ("get", "cancel", "retry", "logs", "items"):
        return {"id": jk.enqueue(c)["id"]}
    if method == "progress":
        return {"id": _running_items_job(c)}
    if method == "log":
        return {"id": _running_items_job(c), "message": "a line"}
    if method == "enqueue":
        return {"type": "remote"}
    if method == "unsubscribe":
        return {"subscription": c.call("subscribe", {})["subscription"]}
    if method == "fetch":
        # Enough ready units that no valid fetch waits (max is at most 1000 per call).
        c.call("enqueue", {"type": "remote", "items": list(range(60000))}, timeout=60)
        return {"types": "remote"}
    if method in ("ack", "extend"):
        return {"lease": "no-such-lease"}
    if method == "nack":
        return {"lease": "no-such-lease", "error": "failed"}
    if method == "restart":
        job = jk.enqueue(c)
        c.call("cancel", {"id": job["id"]})
        return {"ids": [job["id"]]}
    if method == "parallel":
        return {"type": "remote", "max": 2}
    if method == "settings.set":
        return {"key": "workflow.publishing", "value": True}
    return {}


def field_of(error):
    data = error.data if isinstance(error.data, dict) else {}
    field = data.get("field")
    return field.split(".")[0].split("[")[0] if isinstance(field, str) else None


def describe(v):
    text = json.dumps(v)
    return text if len(text) <= 60 else f"{text[:40]}… ({len(text)} bytes)"


@pytest.fixture(scope="module")
def totals(request):
    counts = {}
    yield counts
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nparam properties: {sum(counts.values())} cases over {len(counts)} methods")


def test_every_method_of_the_document_is_covered():
    kernel_methods = set(METHODS)
    assert kernel_methods - SKIPPED, "no methods in protocol/openrpc.json"
    for name in sorted(kernel_methods):
        for p in METHODS[name]["params"]:
            assert "schema" in p and p.get("required") in (True, False), (name, p["name"])


@pytest.mark.parametrize("method", sorted(set(METHODS) - SKIPPED))
def test_param_properties(method, kernel_factory, totals, capsys):
    k = kernel_factory(jk.BASE_CONFIG)
    c = k.client()
    base = prepare(method, c)
    spec = METHODS[method]
    required = {p["name"] for p in spec["params"] if p.get("required")}
    assert required <= set(base), f"add valid base values for {method}'s required params {required - set(base)}"

    cases = []  # (param, value, valid)
    for p in spec["params"]:
        v = validator(p["schema"])
        for value in values_for(p["schema"]):
            valid = v.is_valid(value) or (value is None and not p.get("required"))
            cases.append((p["name"], value, valid))
    for value in (0, "x", None, {}, [1]):
        cases.append((UNKNOWN, value, False))

    calls = [(method, {**base, name: value}) for name, value, _ in cases]
    answers = []
    for start in range(0, len(calls), 50):
        answers += c.call_many(calls[start:start + 50], window=50, timeout=120)

    failures = []
    for (name, value, valid), answer in zip(cases, answers):
        is_32602 = isinstance(answer, jk.RPCError) and answer.code == -32602
        names_it = is_32602 and field_of(answer) == name
        if valid and names_it:
            fragment = STATE_DEPENDENT.get((method, name))
            if fragment is None or fragment not in answer.message:
                failures.append(f"{name}={describe(value)} is valid but got -32602: {answer.message[:200]}")
        elif not valid and not names_it:
            got = (f"{answer.code} field={answer.data.get('field') if isinstance(answer.data, dict) else None}: "
                   f"{answer.message[:200]}") if isinstance(answer, jk.RPCError) else f"result {describe(answer)}"
            failures.append(f"{name}={describe(value)} is invalid but got {got}")
    totals[method] = len(cases)
    with capsys.disabled():
        print(f"\n{method}: {len(cases)} cases")

    assert k.running(), f"the kernel died during {method}'s cases"
    assert isinstance(c.call("stats"), dict)
    assert isinstance(k.client().call("stats"), dict), "a second connection gets no answer"
    assert not failures, f"{method}: {len(failures)} of {len(cases)} cases disagree with openrpc.json:\n" + \
        "\n".join(failures[:40])
